"""The HTTP API's bodies as typed models, one module per surface: each request model both
validates the body (through `refusal.check`) and describes it in `/openapi.json`
(`api/openapi.py`), and each answer is described by a TypedDict.

`fields` holds the kinds of field the models are built from and `Takes`, what a field takes
in an error's words; `refusal` turns pydantic's verdict into the gateway's error, naming the
field and never quoting the input. `messages` is the conversation shared by the chat
surfaces; `openai_chat`, `native`, `account` and `operations` are the surfaces; `envelopes`,
the two error envelopes. Anthropic's Messages surface has its own conversation
(`anthropic_turns`, `anthropic_blocks`), request (`anthropic_messages`) and answers and error
envelope (`anthropic_answers`). A new surface is one more module here, one `check(Model, body)` in
its decoder, and its operation in `api/operations.OPERATIONS`.
"""
