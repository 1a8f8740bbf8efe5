"""The floors for bench/pages.py: a trivial Flask page rendering 20 rows from a list,
served by the same gunicorn settings. Whatever Reelay's pages cost beyond it is ours.

``/floor`` renders its template the way every Flask page does (``render_template``:
compiled once, then cached). ``/floor-string`` is the floor these benches used until
2026-12-07: ``render_template_string`` compiles the template again on every request
(about 1 ms of its 1.3 ms in process), which flattered every ratio measured against it.
It is kept so that new figures can be read beside the old ones."""

from flask import Flask, render_template, render_template_string
from jinja2 import DictLoader

app = Flask(__name__)

ROWS = [
    {"id": f"video_{i:032x}", "prompt": f"prompt {i} paper boat", "status": "COMPLETED", "n": i}
    for i in range(20)
]
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>
<body><table><thead><tr><th>Id</th><th>Prompt</th><th>Status</th><th>N</th></tr></thead><tbody>
{% for r in rows %}<tr><td><a href="/tasks/{{ r.id }}">{{ r.id }}</a></td><td>{{ r.prompt }}</td>
<td>{{ r.status }}</td><td>{{ r.n }}</td></tr>{% endfor %}</tbody></table></body></html>"""
app.jinja_loader = DictLoader({"floor.html": PAGE})


@app.get("/floor")
def floor():
    return render_template("floor.html", rows=ROWS)


@app.get("/floor-string")
def floor_string():
    return render_template_string(PAGE, rows=ROWS)


@app.get("/health")
def health():
    return {"status": "ok"}
