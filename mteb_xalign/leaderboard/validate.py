"""Check a folder of MTEB results before it enters the leaderboard (the public entry points).

The work is split by concern:
- meta_file.py     model_meta.json: mteb's ModelMeta, name/revision, no local paths;
- names.py         hidden characters refused, look-alike names (TR39 skeletons);
- result_file.py   one <Task>.json: mteb's TaskResult, the task, dataset revision;
- score_checks.py  splits, subsets, ranges (rules.py), main score, sizes, the task's consistency rules;
- task_sizes.py    subset sizes asked of the task;
- limits.py        file and submission size limits;
- submission.py    the folder walk, all problems at once.
A task class tightens the checks by declaring `score_rules`, `consistency_problems(subset,
scores)`, `leaderboard_columns` (task_rules.py), `required_score_keys`, and its sizes
(`expected_result_sizes()`), with no change here.
"""

from mteb_xalign.leaderboard.meta_file import MODEL_META, load_model_meta
from mteb_xalign.leaderboard.problems import Problem, SubmissionError
from mteb_xalign.leaderboard.result_file import ResultChecker, TaskResolver, ValidResult, mteb_get_task
from mteb_xalign.leaderboard.submission import RUN_SETTINGS, ValidModel, validate_submission
from mteb_xalign.leaderboard.task_sizes import expected_sizes

__all__ = ["MODEL_META", "RUN_SETTINGS", "Problem", "ResultChecker", "SubmissionError", "TaskResolver",
           "ValidModel", "ValidResult", "expected_sizes", "load_model_meta", "mteb_get_task", "validate_submission"]
