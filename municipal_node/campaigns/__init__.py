"""Campaigns: a notice with an application window sent in phases (予告 → 受付開始 → 締切前リマインド)."""
