"""Date triggers (日付トリガー) from children's birth dates: 乳幼児健診 at 4 months, 1 year 6 months
and 3 years (notice one month ahead), and school entry (入学準備金, ``es1_entrant``).

``definitions`` says when each trigger is due for a child (pure); ``service.run_daily`` (the
``triggers_daily`` task, one per tenant and JST day) streams linked friends who want the topic,
opens their sealed records a page at a time, records one ``trigger_fires`` row per child and
trigger (a keyed digest, never the resident id), and creates one send job per trigger and day
whose recipients are that day's fires (``{"source": "trigger_fires", "fire_key": K}``).
"""
