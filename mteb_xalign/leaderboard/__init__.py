"""The leaderboard: validate submitted MTEB results, store them, render HTML and Markdown.

    from mteb_xalign.leaderboard import submit, build
    submit("results", "leaderboards")   # validate, then copy in (all or nothing)
    build("leaderboards")               # index.html, README.md, leaderboard.json
"""

from mteb_xalign.leaderboard.build import build
from mteb_xalign.leaderboard.store import submit
from mteb_xalign.leaderboard.validate import Problem, SubmissionError, validate_submission

__all__ = ["build", "submit", "validate_submission", "SubmissionError", "Problem"]
