"""Check your answers to the exercises: what is right, what is not, and what to do next.

    python exercises/check.py              every exercise, and your progress
    python exercises/check.py 03           lesson 03's exercises only
    python exercises/check.py --hint 03.2  a hint for exercise 03.2
    python exercises/check.py --solutions  the same checks on exercises/solutions/, to compare

Your answers go in exercises/exNN.py (NN: the lesson); each function says what it should do. Progress is
worked out by running the checks every time, never stored.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the lessons and common/, which some checks compare with
sys.path.insert(0, str(HERE))

from checks import EXERCISES, Wrong  # noqa: E402

warnings.simplefilter("ignore")  # a library's notices (deprecations) are not the learner's business here


def load_answers(folder: Path, lesson: str):
    """exNN.py from ``folder`` as a module; a file that does not even import is reported, not raised."""
    path = folder / f"ex{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"answers_{folder.name}_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_check(exercise, folder: Path) -> tuple[str, str]:
    """("done" | "todo" | "wrong", what to print) for one exercise."""
    lesson = exercise.id[:2]
    try:
        module = load_answers(folder, lesson)
        exercise.check(module)
    except NotImplementedError:
        return "todo", "not done yet"
    except Wrong as wrong:
        return "wrong", str(wrong)
    except Exception as error:  # the learner's code raised: one line, not a traceback
        return "wrong", f"your code raised {type(error).__name__}: {error}"
    return "done", "right"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("lessons", nargs="*", metavar="NN", help="lesson numbers to check (default: all)")
    parser.add_argument("--hint", metavar="NN.K", help="print the hint for one exercise and stop")
    parser.add_argument("--solutions", action="store_true", help="check exercises/solutions/ instead of your answers")
    args = parser.parse_args()
    ids = {exercise.id: exercise for exercise in EXERCISES}
    if args.hint:
        if args.hint not in ids:
            parser.error(f"no exercise {args.hint}; they are {', '.join(ids)}")
        print(f"{args.hint} {ids[args.hint].title}: {ids[args.hint].hint}")
        return
    known = sorted({exercise.id[:2] for exercise in EXERCISES})
    unknown = [lesson for lesson in args.lessons if lesson not in known]
    if unknown:
        parser.error(f"no exercises for lesson {', '.join(unknown)}; there are {', '.join(known)}")
    folder = HERE / "solutions" if args.solutions else HERE
    chosen = [exercise for exercise in EXERCISES if not args.lessons or exercise.id[:2] in args.lessons]
    start, results = time.perf_counter(), {}
    for exercise in chosen:
        status, message = run_check(exercise, folder)
        results[exercise.id] = status
        mark = {"done": "ok  ", "todo": "    ", "wrong": "FAIL"}[status]
        print(f"{mark} {exercise.id} {exercise.title} ({'solutions/' if args.solutions else ''}ex{exercise.id[:2]}.py, "
              f"{exercise.name})" + ("" if status == "done" else ": " + message.replace("\n", "\n            ")))
    print()
    for lesson in sorted({exercise.id[:2] for exercise in chosen}):
        mine = [status for id, status in results.items() if id[:2] == lesson]
        print(f"{lesson}: {mine.count('done')} of {len(mine)} done", end="; " if lesson[1] != "5" else ";\n")
    done = sum(status == "done" for status in results.values())
    print(f"{done} of {len(results)} in all ({time.perf_counter() - start:.1f} s)")
    left = [exercise for exercise in chosen if results[exercise.id] != "done"]
    if left:
        print(f"next: {left[0].id} {left[0].title}, in exercises/ex{left[0].id[:2]}.py "
              f"(python exercises/check.py --hint {left[0].id} if you are stuck)")
    else:
        print("all done" + ("" if args.solutions else ": compare with exercises/solutions/"))


if __name__ == "__main__":
    main()
