"""Models the project ships or builds itself.

`tiny_tasks` is the synthetic arithmetic task family the shipped tiny reasoner
(`tiny_reasoner/`, a Hugging Face model folder) was trained on; `asyncthink.training`
regenerates that folder from a seed. The model exists so the engine can be shown
*behaving* (correct answers, an early writer, heard corrections) without downloads.
"""
