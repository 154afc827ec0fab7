"""The judge's one page: HTML, style and script in one string, nothing loaded from elsewhere.

Keyboard only: Enter starts (or resumes), R answers "real", F answers "generated" (the
buttons do the same for a mouse). With an exposure time the item is shown for that many
milliseconds (timed from the frame it is painted) and then replaced by a noise mask; the
answer may come after the mask. The page's state is on ``<main data-phase data-item>``
for tests and assistive tools.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f3f3f3;color:#111}
main{max-width:760px;margin:28px auto;background:#fff;padding:22px 28px;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:21px;margin:0 0 8px}#stage{display:flex;justify-content:center;align-items:center;height:480px;
background:#fafafa;border:1px solid #ddd;margin:14px 0}#stage img,#stage canvas{width:448px;height:448px;
image-rendering:pixelated}kbd{border:1px solid #999;border-bottom-width:2px;border-radius:4px;padding:0 6px;
font:14px ui-monospace,Menlo,Consolas,monospace;background:#fff}.row{display:flex;gap:12px;justify-content:center}
button{font-size:16px;padding:8px 18px}#msg{min-height:24px;color:#a00}#progress{color:#555}.hidden{display:none}
"""

SCRIPT = r"""
(function () {
  'use strict';
  var main = document.querySelector('main'), stage = document.getElementById('stage');
  var intro = document.getElementById('intro'), ask = document.getElementById('ask');
  var progress = document.getElementById('progress'), msg = document.getElementById('msg');
  var done = document.getElementById('done');
  var state = null, busy = false, shownAt = 0, current = null;

  function setPhase(phase, item) {
    main.dataset.phase = phase;
    if (item === undefined || item === null) { delete main.dataset.item; } else { main.dataset.item = String(item); }
  }
  function api(method, url, body) {
    var opts = {method: method, headers: {}, cache: 'no-store'};
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new Error(j.error || ('HTTP ' + r.status)); }
        return j;
      });
    });
  }
  function clearStage() { while (stage.firstChild) { stage.removeChild(stage.firstChild); } }
  function pct(v) { return (v === null || v === undefined) ? '-' : (100 * v).toFixed(1) + ' %'; }

  function showIntro() {
    clearStage();
    var n = state.answered;
    document.getElementById('start-label').textContent = n ? ('continue (' + n + ' of ' + state.n + ' answered)') : 'start';
    progress.textContent = '';
    intro.classList.remove('hidden'); ask.classList.add('hidden'); done.classList.add('hidden');
    setPhase('intro');
  }
  function showDone() {
    clearStage();
    intro.classList.add('hidden'); ask.classList.add('hidden'); done.classList.remove('hidden');
    var r = state.result || {};
    document.getElementById('result').textContent = 'Your error rate: ' + pct(r.error) + ' (95 % interval ' +
      pct(r.ci_low) + ' to ' + pct(r.ci_high) + ') over ' + r.items + ' questions; 50 % means you could not tell.';
    progress.textContent = state.n + ' of ' + state.n + ' answered';
    setPhase('done');
  }

  function drawPoints(canvas, item) {
    var ctx = canvas.getContext('2d'), w = canvas.width, h = canvas.height;
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = '#ccc'; ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
    var xl = item.xlim || item.limits, yl = item.ylim || item.limits;
    function px(v) { return (v - xl[0]) / (xl[1] - xl[0]) * w; }
    function py(v) { return h - (v - yl[0]) / (yl[1] - yl[0]) * h; }
    ctx.fillStyle = '#111';
    if (item.hist) {
      var bw = w / item.hist.length;
      item.hist.forEach(function (c, i) { var bh = c / item.ymax * (h - 10); ctx.fillRect(i * bw + 1, h - bh, bw - 2, bh); });
      return;
    }
    item.points.forEach(function (p) { ctx.beginPath(); ctx.arc(px(p[0]), py(p[1]), 2.2, 0, 6.2832); ctx.fill(); });
  }
  function mask() {
    var c = document.createElement('canvas'); c.width = 112; c.height = 112;
    var ctx = c.getContext('2d'), img = ctx.createImageData(112, 112);
    for (var i = 0; i < img.data.length; i += 4) {
      var v = Math.floor(Math.random() * 256); img.data[i] = img.data[i + 1] = img.data[i + 2] = v; img.data[i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0); return c;
  }
  function loadItem(i) {
    if (state.kind === 'points') {
      return api('GET', '/api/item/' + i).then(function (item) {
        var c = document.createElement('canvas'); c.width = 448; c.height = 448; drawPoints(c, item); return c;
      });
    }
    var img = new Image(); img.alt = 'question ' + (i + 1); img.src = '/api/item/' + i;
    return img.decode().then(function () { return img; });
  }
  function ask_(i) {
    busy = true;
    intro.classList.add('hidden'); done.classList.add('hidden'); msg.textContent = '';
    progress.textContent = 'question ' + (i + 1) + ' of ' + state.n;
    setPhase('loading', i);
    loadItem(i).then(function (el) {
      clearStage(); stage.appendChild(el); ask.classList.remove('hidden');
      requestAnimationFrame(function (t) {
        shownAt = performance.now(); current = i; busy = false; setPhase('question', i);
        if (state.exposure_ms) {
          setTimeout(function () { if (current === i) { clearStage(); stage.appendChild(mask()); main.dataset.masked = '1'; } },
                     state.exposure_ms);
        }
      });
    }).catch(function (e) { busy = false; msg.textContent = 'could not load question: ' + e.message; });
  }
  function answer(said) {
    if (busy || current === null) { return; }
    busy = true;
    var i = current, rt = performance.now() - shownAt;
    current = null; delete main.dataset.masked; setPhase('sending', i);
    api('POST', '/api/answer', {item: i, answer: said, rt_ms: Math.round(rt)}).then(function (s) {
      state = s; busy = false; next();
    }).catch(function (e) { busy = false; msg.textContent = e.message; refresh(); });
  }
  function next() { if (state.next === null) { showDone(); } else { ask_(state.next); } }
  function refresh() { return api('GET', '/api/state').then(function (s) { state = s; if (s.next === null) { showDone(); } }); }

  document.addEventListener('keydown', function (e) {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey || !state) { return; }
    var phase = main.dataset.phase;
    if (e.key === 'Enter' && phase === 'intro') { e.preventDefault(); next(); return; }
    if (phase !== 'question') { return; }
    var k = e.key.toLowerCase();
    if (k === 'r') { e.preventDefault(); answer('real'); }
    else if (k === 'f') { e.preventDefault(); answer('generated'); }
  });
  document.getElementById('btn-real').addEventListener('click', function () { answer('real'); });
  document.getElementById('btn-fake').addEventListener('click', function () { answer('generated'); });
  document.getElementById('btn-start').addEventListener('click', function () { if (main.dataset.phase === 'intro') { next(); } });
  api('GET', '/api/state').then(function (s) {
    state = s;
    document.getElementById('exposure').textContent = s.exposure_ms ?
      ('Each item is shown for ' + s.exposure_ms + ' ms and then masked (' + s.protocol + ').') :
      ('Take as long as you like (' + s.protocol + ').');
    if (s.next === null) { showDone(); } else { showIntro(); }
  }).catch(function (e) { msg.textContent = 'cannot reach the judge server: ' + e.message; });
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# The Content-Security-Policy allows exactly this page's inline script and style (by hash),
# images from the server itself, and requests back to it: nothing else runs or loads.
CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def render_page(title: str) -> bytes:
    from html import escape

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Real or generated? {escape(title)}</title><style>{STYLE}</style></head>
<body><main data-phase="starting">
<h1>Real or generated?</h1>
<p>Half of the items are real examples of the data, half were generated by the model <b>{escape(title)}</b>,
in random order. For each, press <kbd>R</kbd> if you think it is <b>real</b> or <kbd>F</kbd> if you think it is
<b>generated</b> (fake). <span id="exposure"></span></p>
<div id="progress" aria-live="polite"></div>
<div id="stage"></div>
<div id="intro" class="hidden row"><button id="btn-start">Press <kbd>Enter</kbd> to <span id="start-label">start</span></button></div>
<div id="ask" class="hidden row"><button id="btn-real"><kbd>R</kbd> real</button>
<button id="btn-fake"><kbd>F</kbd> generated</button></div>
<div id="done" class="hidden"><p><b>Done, thank you.</b> <span id="result"></span></p></div>
<div id="msg" role="alert"></div>
</main><script>{SCRIPT}</script></body></html>
""".encode("utf-8")
