"""`python -m asyncthink.listen_eval TASKS.jsonl ...`"""

import sys

from .main import main

sys.exit(main(prog="python -m asyncthink.listen_eval"))
