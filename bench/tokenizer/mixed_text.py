"""Deterministic mixed text for tokenizer comparisons: English prose, code, CJK, Cyrillic,
emoji, digit runs, whitespace runs, punctuation. Same seed -> same text, on every machine."""
import random

_WORDS = ("the of and to in is was for that with on as by at from his her it an are were which "
          "be this have or had not but what all when there can been has more if will one about "
          "principle response judge reward model candidate ranking score concise helpful").split()
_CJK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区"
_CYRILLIC = "Съешь же ещё этих мягких французских булок, да выпей чаю. Привет мир "
_EMOJI = ["🚀", "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "🤖", "✨", "🎉", "🧠"]
_CODE = [
    "def f(x):\n    return x * 2  # double\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }\n",
    "if err != nil {\n\treturn nil, err\n}\n",
    "{\"scores\": {\"model-1\": 4, \"model-2\": 2}, \"best-to-worst\": [\"model-1\", \"model-2\"]}\n",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;\n",
    "<think>\nThe principle asks for brevity.\n</think>\n\n",
]


def _sentence(rng):
    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 14))]
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    if rng.random() < 0.1:
        words.append("don't" if rng.random() < 0.5 else "it's")
    return " ".join(words) + rng.choice([".", ",", "!", "?", ";", ":"])


def mixed_text(n_bytes, seed=0):
    rng = random.Random(seed)
    parts, size = [], 0
    while size < n_bytes:
        r = rng.random()
        if r < 0.45:
            s = _sentence(rng) + " "
        elif r < 0.55:
            s = rng.choice(_CODE)
        elif r < 0.65:
            s = "".join(rng.choice(_CJK) for _ in range(rng.randint(2, 30))) + rng.choice(["。", "，", "！", "\n"])
        elif r < 0.70:
            s = _CYRILLIC[rng.randint(0, 20):rng.randint(30, len(_CYRILLIC))]
        elif r < 0.75:
            s = " ".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 4))) + " "
        elif r < 0.82:
            s = str(rng.randint(0, 10 ** rng.randint(1, 15))) + rng.choice([" ", ".", ", ", "\n"])
        elif r < 0.88:
            s = rng.choice([" " * rng.randint(2, 40), "\n" * rng.randint(1, 5), "\t" * rng.randint(1, 4),
                            " \n \n", "\r\n"])
        elif r < 0.94:
            s = "".join(rng.choice("!@#$%^&*()_+-=[]{}|;:'\",.<>/?`~\\") for _ in range(rng.randint(1, 12))) + " "
        else:
            s = "".join(chr(rng.choice([rng.randint(0xA0, 0x24F), rng.randint(0x370, 0x3FF),
                                        rng.randint(0x600, 0x6FF), rng.randint(0x900, 0x97F),
                                        rng.randint(0xAC00, 0xD7A3)])) for _ in range(rng.randint(1, 10))) + " "
        parts.append(s)
        size += len(s.encode("utf-8"))
    return "".join(parts)
