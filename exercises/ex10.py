"""Exercises for lesson 10 (serving the model). Check with  python exercises/check.py 10"""

from pydantic import BaseModel


class Request(BaseModel):
    """10.1 - the body a text-generation endpoint accepts, validated by pydantic (FastAPI answers 422 to a
    body it refuses). Fields: prompt, a string of at most 500 characters (default ""); max_new_tokens, an
    integer from 1 to 300 (default 100); temperature, a number from 0 to 2 (default 0.8). An unknown field
    is refused, and so is a string where a number belongs ("5").

    Replace ``pass`` with the fields (pydantic's Field and ConfigDict).
    """

    pass


def sse_event(text: str) -> str:
    """10.2 - one Server-Sent Event carrying ``text``: each line of the text becomes a line "data: <line>",
    and a blank line ends the event.

    Example: sse_event("to be\\nor not") -> "data: to be\\ndata: or not\\n\\n"
    """
    raise NotImplementedError
