"""Use-cases officials and citizens trigger outside Rasa (slash commands, handoff relay, erasure), called where Rasa is asked."""
