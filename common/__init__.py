"""The ground floor: code every layer and both runtimes may import; it imports nothing of the project.

Kept Python 3.10-compatible (the engine runtime imports it too).
"""
