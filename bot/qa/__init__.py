"""Questions: bilingual retrieval, the question engine, chat memory and optional LLM phrasing."""
