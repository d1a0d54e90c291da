"""Started by every Python process a traveling test run spawns (see tests/timetravel.py).

The test run puts this directory on PYTHONPATH only when PARTNERBRIEF_TEST_DATE is set, and
passes its offset from the real clock, so that a bot started as a subprocess lives at the same
moment as the test that started it.
"""

import os

_offset = os.environ.get("PARTNERBRIEF_TRAVEL_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
