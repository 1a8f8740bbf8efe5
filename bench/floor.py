"""The floor for bench/pages.py: a trivial Flask page rendering 20 rows from a list,
served by the same gunicorn settings. Whatever Reelay's pages cost beyond it is ours."""

from flask import Flask, render_template_string

app = Flask(__name__)

ROWS = [
    {"id": f"video_{i:032x}", "prompt": f"prompt {i} paper boat", "status": "COMPLETED", "n": i}
    for i in range(20)
]
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>
<body><table><thead><tr><th>Id</th><th>Prompt</th><th>Status</th><th>N</th></tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/tasks/{{ r.id }}">{{ r.id }}</a></td><td>{{ r.prompt }}</td>
<td>{{ r.status }}</td><td>{{ r.n }}</td></tr>{% endfor %}</tbody></table></body></html>"""


@app.get("/floor")
def floor():
    return render_template_string(PAGE, rows=ROWS)


@app.get("/health")
def health():
    return {"status": "ok"}
