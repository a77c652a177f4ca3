"""Prompt templates of the attack campaigns, written for this simulator from the published
descriptions of each method (Self-Instruct, Alpaca, Evol-Instruct, UltraFeedback, reasoning-trace
elicitation); no tool's code or template text is copied.

Every family has several paraphrased variants and each campaign uses its own, because real
pipelines differ in wording: a detector must learn the *shape* (fixed header, variable payload),
not one exact string. Placeholders are `str.format` fields.
"""

from __future__ import annotations

# --- instruction generation: Self-Instruct style, Alpaca style, JSON-pairs style ----------------
INSTRUCTION_GENERATION = (
    "Here are {k} example tasks:\n\n{seeds}\n\nWrite {n} more tasks like these. Number them, "
    "keep them varied in topic and format, and do not copy any of the examples.",
    "Generate {n} diverse task instructions that will be used to train a language model to "
    "follow instructions.\n\nRequirements:\n1. Do not use the same verb twice, so that the "
    "instructions stay diverse.\n2. Vary the kind of task: open questions, classification, "
    "editing, brainstorming, coding, reasoning.\n3. Each instruction is one or two sentences "
    "of English.\n4. If a task needs an input, write a realistic input of at most 100 words; "
    'otherwise write "<no input>".\n5. Give a response of at most 100 words for each '
    "instruction.\n\nSeed examples:\n{seeds}\n\nNow write the {n} tasks.",
    "You create training data for an instruction-following assistant. Using the seed "
    "instructions below as inspiration only, write {n} new instruction/response pairs. Return "
    'a JSON array of objects with the keys "instruction", "input" and "output".\n\nSeed '
    "instructions:\n{seeds}",
)
SEED_FORMATS = ("Task {i}: {text}", "###\nInstruction {i}: {text}", "- {text}")

# --- Evol-Instruct: in-depth and in-breadth evolution, then the evolved prompt alone ----------
EVOLVE_IN_DEPTH = (
    "Please act as a prompt rewriter. Turn the prompt below into a harder version that "
    "well-known AI systems would find more challenging, while keeping it reasonable and "
    "answerable by a person. {method} The new prompt may add at most 20 words.\n\nOriginal "
    "prompt:\n{prompt}\n\nHarder prompt:",
    "Rewrite the following instruction so that it becomes more complex. Technique to apply: "
    "{method} Keep the result self-contained, do not answer it and do not say that it was "
    "rewritten.\n\n<instruction>\n{prompt}\n</instruction>",
)
EVOLVE_IN_BREADTH = (
    "Draw inspiration from the prompt below to write a brand-new prompt in the same domain "
    "but about a rarer topic, of similar length and difficulty.\n\nOriginal prompt:\n{prompt}"
    "\n\nNew prompt:",
    "Create one new instruction that belongs to the same field as the instruction below but "
    "covers a less common subject. Match its length and difficulty and output only the new "
    "instruction.\n\n<instruction>\n{prompt}\n</instruction>",
)
DEPTH_METHODS = (
    "Add one more constraint or requirement to it.",
    "Replace general concepts with more specific ones.",
    "If it can be solved in a few simple steps, make it explicitly require several reasoning "
    "steps.",
    "Increase the depth and breadth of what it asks.",
    "Add a small table or code snippet to it as extra input.",
)
# What an evolution typically adds: the evolved prompt (the model's output) is then sent alone.
EVOLVED_CLAUSES = (
    "Your answer must stay under 200 words.",
    "Include at least two concrete examples.",
    "Explain the trade-offs of each option you mention.",
    "Present the final result as a table.",
    "Assume the reader is an expert and skip the basics.",
    "Justify every claim with a short argument.",
    "Consider at least one edge case and how to handle it.",
    "Answer first for a beginner, then for an expert.",
    "Do this without using any external libraries.",
    "Compare two different approaches before choosing one.",
)

# --- UltraFeedback-style rating of candidate completions -------------------------------------
RUBRIC = (
    "Evaluate the {n} responses below to the instruction, for {aspect}.\n\nScore each response "
    "from 1 to 5 (1 = fails completely, 3 = partially meets the bar, 5 = fully meets it). "
    "For each response write:\nRating: <1-5>\nRationale: <one or two sentences>\n\n"
    "Instruction:\n{instruction}\n\n{responses}",
    "Rate how good each assistant answer to the user question is on a scale of 1 to 10, "
    "judging {aspect}. Output a JSON list with one object per answer, with the keys "
    '"answer", "score" and "explanation".\n\n### Question\n{instruction}\n\n{responses}',
)
RUBRIC_RESPONSE_FORMATS = ("<response {i}>\n{text}\n</response {i}>", "### Answer {i}\n{text}")
RUBRIC_ASPECTS = (
    ("helpfulness", "honesty", "instruction following", "truthfulness"),
    ("accuracy, depth and clarity", "helpfulness and relevance", "harmlessness"),
)
RUBRIC_SYSTEM = (None, "You are a fair and strict judge of answer quality.")

# --- reasoning-trace elicitation, in ten languages ------------------------------------------
LANGUAGES = ("en", "zh", "ru", "es", "de", "fr", "ja", "ko", "pt", "ar")
STEP_MARKERS = {
    "en": (
        "Solve this carefully. Write out every step of your reasoning in full before you state "
        "the final answer.",
        "Show your complete chain of thought, step by step, and only then give the final answer.",
    ),
    "zh": ("请仔细解答这个问题。在给出最终答案之前，完整地写出每一步推理过程。",
           "请逐步展示你完整的思考过程，最后再给出答案。"),
    "ru": (
        "Реши задачу внимательно. Прежде чем дать окончательный ответ, подробно распиши каждый "
        "шаг своих рассуждений.",
        "Покажи весь ход своих рассуждений шаг за шагом и только потом дай окончательный ответ.",
    ),
    "es": (
        "Resuélvelo con cuidado. Escribe cada paso de tu razonamiento por completo antes de dar "
        "la respuesta final.",
        "Muestra todo tu proceso de pensamiento paso a paso y solo después da la respuesta final.",
    ),
    "de": (
        "Löse die Aufgabe sorgfältig. Schreibe jeden Schritt deiner Überlegungen vollständig "
        "auf, bevor du die endgültige Antwort gibst.",
        "Zeige deinen gesamten Gedankengang Schritt für Schritt und nenne erst danach die "
        "endgültige Antwort.",
    ),
    "fr": (
        "Résous ce problème avec soin. Rédige chaque étape de ton raisonnement en entier avant "
        "de donner la réponse finale.",
        "Montre tout ton raisonnement, étape par étape, et donne seulement ensuite la réponse "
        "finale.",
    ),
    "ja": ("注意深く解いてください。最終的な答えを述べる前に、"
           "推論の各ステップをすべて詳しく書き出してください。",
           "考えの過程を一歩ずつすべて示し、その後で最終的な答えを述べてください。"),
    "ko": ("이 문제를 신중하게 풀어 주세요. 최종 답을 제시하기 전에 "
           "추론의 모든 단계를 빠짐없이 자세히 적어 주세요.",
           "생각의 과정을 단계별로 모두 보여 준 다음에 최종 답을 말해 주세요."),
    "pt": (
        "Resolva com cuidado. Escreva cada passo do seu raciocínio por completo antes de dar a "
        "resposta final.",
        "Mostre todo o seu processo de raciocínio, passo a passo, e só depois dê a resposta final.",
    ),
    "ar": ("حلّ هذه المسألة بعناية، واكتب كل خطوة من خطوات تفكيرك "
           "بالتفصيل قبل أن تعطي الإجابة النهائية.",
           "اعرض طريقة تفكيرك كاملةً خطوةً بخطوة، ثم اذكر الإجابة النهائية بعد ذلك."),
}  # fmt: skip
# "Here is a question and its final answer: write the reasoning that leads to it."
RATIONALE_FRAMES = {
    "en": "Question:\n{q}\n\nFinal answer:\n{a}\n\nWrite out the complete reasoning that leads "
    "from the question to this answer, step by step, as if you were working it out yourself.",
    "zh": "问题：\n{q}\n\n最终答案：\n{a}\n\n"
    "请一步一步地写出从问题推导出这个答案的完整推理过程，就像你自己在解题一样。",
    "ru": "Вопрос:\n{q}\n\nОкончательный ответ:\n{a}\n\nШаг за шагом запиши полное рассуждение, "
    "которое приводит от вопроса к этому ответу, как будто ты решаешь задачу сам.",
    "es": "Pregunta:\n{q}\n\nRespuesta final:\n{a}\n\nEscribe paso a paso el razonamiento "
    "completo que lleva de la pregunta a esta respuesta, como si lo resolvieras tú mismo.",
    "de": "Frage:\n{q}\n\nEndgültige Antwort:\n{a}\n\nSchreibe Schritt für Schritt die "
    "vollständige Herleitung auf, die von der Frage zu dieser Antwort führt, als würdest du "
    "sie selbst lösen.",
    "fr": "Question :\n{q}\n\nRéponse finale :\n{a}\n\nÉcris, étape par étape, le raisonnement "
    "complet qui mène de la question à cette réponse, comme si tu le trouvais toi-même.",
    "ja": "質問：\n{q}\n\n最終的な答え：\n{a}\n\n"
    "質問からこの答えに至るまでの推論の過程を、自分で解いているかのように一歩ずつすべて書き出してください。",
    "ko": "질문:\n{q}\n\n최종 답:\n{a}\n\n"
    "질문에서 이 답에 이르는 전체 추론 과정을 직접 푸는 것처럼 단계별로 모두 적어 주세요.",
    "pt": "Pergunta:\n{q}\n\nResposta final:\n{a}\n\nEscreva, passo a passo, o raciocínio "
    "completo que leva da pergunta a esta resposta, como se você mesmo o estivesse resolvendo.",
    "ar": "السؤال:\n{q}\n\nالإجابة النهائية:\n{a}\n\n"
    "اكتب خطوة بخطوة الاستدلال الكامل الذي يقود من السؤال إلى هذه الإجابة، كما لو كنت تحلّها بنفسك.",
}  # fmt: skip
THINK_TAGS = (
    "Before answering, reason through the problem inside <think> and </think> tags, covering "
    "every intermediate step; after the closing tag give only the final answer.\n\n{q}"
)
THINK_SYSTEM = "You are a meticulous reasoner who never skips a step."

# --- agentic coding harvest: single-turn tasks with tools declared ----------------------------
AGENT_SYSTEM = (
    "You are an autonomous software engineering agent working in a sandboxed repository. Use "
    "the provided tools to inspect files, edit code and run the tests. Decide on one action "
    "at a time and continue until the task is fully done.",
    None,
)
AGENT_TASK = (
    "{task}",
    "<task>\n{task}\n</task>\nYou have shell and editor tools. Plan the change, then call the "
    "tools needed to implement it and verify it with tests.",
)

# Client libraries that pipelines drive (the same strings legitimate customers send).
CLIENT_AGENTS = (
    "OpenAI/Python 1.51.2",
    "AsyncOpenAI/Python 1.54.4",
    "OpenAI/Python 1.40.0",
    "AsyncOpenAI/Python 1.35.7",
    "OpenAI/Python 1.58.1",
    "litellm/1.52.6",
    "python-httpx/0.27.2",
    "OpenAI/JS 4.67.3",
    "python-requests/2.32.3",
    "Python/3.11 aiohttp/3.10.10",
)
