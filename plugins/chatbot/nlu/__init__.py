"""Understanding citizens' Spanish: normalisation, features and the intent
classifier, entities and their validators."""
