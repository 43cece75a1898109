"""Solutions to lesson 10's exercises."""

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field("", max_length=500)
    max_new_tokens: int = Field(100, ge=1, le=300)
    temperature: float = Field(0.8, ge=0.0, le=2.0)


def sse_event(text: str) -> str:
    return "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"
