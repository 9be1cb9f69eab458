"""The bot's knowledge: our YAML format, Rasa 3.1 import, validation with file and
line numbers."""

from canales.plugins.chatbot.knowledge.loader import Knowledge, TrainingData, load_knowledge, parse_payload, read_training
from canales.plugins.chatbot.knowledge.yamlfile import KnowledgeError

__all__ = ["Knowledge", "KnowledgeError", "TrainingData", "load_knowledge", "parse_payload", "read_training"]
