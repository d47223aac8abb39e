"""Language models: `Model` over OpenAI-compatible endpoints and Anthropic, chosen by configuration."""

from autonomy.models.config import ProviderConfig, resolve
from autonomy.models.errors import ModelConfigurationError, ModelError, ModelRequestError, ModelThrottled
from autonomy.models.model import DEFAULT_MODEL, Model, estimate_tokens
from autonomy.models.types import ModelDelta, ModelResponse, ToolCall

__all__ = [
    "DEFAULT_MODEL",
    "Model",
    "ModelConfigurationError",
    "ModelDelta",
    "ModelError",
    "ModelRequestError",
    "ModelResponse",
    "ModelThrottled",
    "ProviderConfig",
    "ToolCall",
    "estimate_tokens",
    "resolve",
]
