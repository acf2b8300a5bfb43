"""Applications to a campaign: online (LIFF form, LINE ID token verified) or at the counter /
by mail (the core system's CSV of applicant resident ids)."""
