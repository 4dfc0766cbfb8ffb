// loraone web page: job list (polled), one job's live view (server-sent events), submit and cancel.
'use strict';
const $ = (id) => document.getElementById(id);
let selected = null;
let source = null;
let view = null;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = $('token').value || localStorage.getItem('loraone-token') || '';
  if (t) h['Authorization'] = 'Bearer ' + t;
  return h;
}

async function refreshJobs() {
  try {
    const res = await fetch('/jobs');
    const jobs = await res.json();
    $('conn').textContent = '';
    const body = $('jobs').querySelector('tbody');
    body.innerHTML = '';
    for (const j of jobs.slice().reverse()) {
      const tr = document.createElement('tr');
      tr.dataset.id = j.id;
      if (j.id === selected) tr.className = 'selected';
      const loss = j.loss === undefined || j.loss === null ? '-' : Number(j.loss).toFixed(4);
      for (const v of [j.id, j.state, j.phase, j.step + '/' + j.steps, loss]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      }
      tr.children[1].className = j.state;
      tr.onclick = () => select(j.id);
      body.appendChild(tr);
    }
  } catch (e) {
    $('conn').textContent = 'service unreachable';
  }
}

async function submit() {
  $('submit-result').textContent = '';
  const t = $('token').value;
  if (t) localStorage.setItem('loraone-token', t);
  const res = await fetch('/jobs', { method: 'POST', headers: headers({ 'Content-Type': 'application/hocon' }), body: $('spec').value });
  const body = await res.json();
  if (res.status !== 201) {
    $('submit-result').textContent = res.status + ' ' + body.error + (body.problems ? '\n' + body.problems.join('\n') : '');
    return;
  }
  $('submit-result').textContent = 'submitted ' + body.id;
  await refreshJobs();
  select(body.id);
}

function select(id) {
  selected = id;
  if (source) source.close();
  view = { id, curve: [], evals: [], timeline: [], workers: [], state: '', phase: '', step: 0, steps: 0, reason: '' };
  $('detail').hidden = false;
  $('detail-title').textContent = id;
  render();
  fetch('/jobs/' + encodeURIComponent(id)).then((r) => r.json()).then((j) => { view.state = j.state; render(); });
  source = new EventSource('/jobs/' + encodeURIComponent(id) + '/events');
  source.onmessage = (m) => apply(JSON.parse(m.data));
  for (const kind of ['PhaseChanged', 'WorkersChanged', 'StepDone', 'Evaluated', 'Checkpointed', 'Traffic', 'Finished', 'Failed',
    'Submitted', 'Started', 'Requeued', 'CancelRequested', 'Cancelled']) {
    source.addEventListener(kind, (m) => apply(JSON.parse(m.data)));
  }
  source.onerror = () => { if (view && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(view.state)) source.close(); };
  refreshJobs();
}

function apply(e) {
  if (!view || e.job !== view.id) return;
  switch (e.event) {
    case 'PhaseChanged': view.phase = e.phase; view.timeline.push([e.phase, e.time, e.detail]); break;
    case 'WorkersChanged': view.workers = e.workers; view.workersDetail = e.detail; break;
    case 'StepDone': view.step = e.step; view.steps = e.steps; view.curve.push([e.step, e.loss, e.accuracy]); break;
    case 'Evaluated': view.evals.push([e.step, e.accuracy]); break;
    case 'Started': view.state = 'RUNNING'; break;
    case 'Submitted': case 'Requeued': view.state = 'QUEUED'; view.timeline.push(['QUEUED', e.time, e.detail]); break;
    case 'Finished': view.state = 'SUCCEEDED'; view.phase = 'DONE'; view.sha = e.adapterSha256; break;
    case 'Failed': view.state = view.cancelling ? 'CANCELLED' : 'FAILED'; view.phase = view.state; view.reason = e.reason; break;
    case 'CancelRequested': view.cancelling = true; break;
    case 'Cancelled': view.state = 'CANCELLED'; view.phase = 'CANCELLED'; view.reason = e.detail; break;
  }
  render();
}

function render() {
  if (!view) return;
  $('state').textContent = view.state;
  $('state').className = view.state;
  $('phase').textContent = view.phase;
  $('step').textContent = view.step + '/' + view.steps;
  $('reason').textContent = view.reason || '';
  $('cancel').disabled = ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(view.state);
  $('workers').textContent = (view.workers.length ? view.workers.join(', ') : 'none') + (view.workersDetail ? ' (' + view.workersDetail + ')' : '');
  const tl = $('timeline');
  tl.innerHTML = '';
  for (const [phase, time, detail] of view.timeline) {
    const li = document.createElement('li');
    li.textContent = new Date(time).toLocaleTimeString() + ' ' + phase + (detail ? ': ' + detail : '');
    tl.appendChild(li);
  }
  const arts = $('artifacts');
  arts.innerHTML = '';
  if (view.state === 'SUCCEEDED') {
    for (const [name, label] of [['adapter', 'PEFT adapter (zip)'], ['onnx', 'merged ONNX model']]) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '/jobs/' + encodeURIComponent(view.id) + '/artifacts/' + name;
      a.textContent = label;
      li.appendChild(a);
      arts.appendChild(li);
    }
    if (view.sha) { const li = document.createElement('li'); li.textContent = 'adapter sha256 ' + view.sha; arts.appendChild(li); }
  }
  chart();
}

function chart() {
  const svg = $('loss-chart');
  const W = 600, H = 220, pad = 24;
  const steps = Math.max(view.steps, 1);
  const losses = view.curve.map((p) => p[1]).filter(Number.isFinite);
  const maxLoss = losses.length ? Math.max(...losses) * 1.05 : 1;
  const x = (s) => pad + (W - 2 * pad) * (s / steps);
  const y = (v, max) => H - pad - (H - 2 * pad) * (v / max);
  const line = (pts, cls, color) => {
    if (!pts.length) return '';
    const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + p[1].toFixed(1)).join(' ');
    return '<path class="' + cls + '" data-points="' + pts.length + '" d="' + d + '" fill="none" stroke="' + color + '" stroke-width="2"/>';
  };
  const loss = view.curve.filter((p) => Number.isFinite(p[1])).map((p) => [p[0], y(p[1], maxLoss)]);
  const acc = view.curve.filter((p) => Number.isFinite(p[2])).map((p) => [p[0], y(p[2], 1)]);
  const ev = view.evals.map((p) => [p[0], y(p[1], 1)]);
  svg.innerHTML = '<line x1="' + pad + '" y1="' + (H - pad) + '" x2="' + (W - pad) + '" y2="' + (H - pad) + '" stroke="#999"/>'
    + '<text x="' + pad + '" y="14" font-size="11" fill="#c0392b">loss max ' + maxLoss.toFixed(2) + '</text>'
    + '<text x="' + (W - pad - 60) + '" y="14" font-size="11" fill="#666">step ' + view.step + '/' + view.steps + '</text>'
    + line(loss, 'loss-line', '#c0392b') + line(acc, 'acc-line', '#2e86c1') + line(ev, 'eval-line', '#27ae60');
}

async function cancel() {
  if (!view) return;
  const res = await fetch('/jobs/' + encodeURIComponent(view.id) + '/cancel', { method: 'POST', headers: headers() });
  const body = await res.json();
  if (res.status !== 202) $('reason').textContent = res.status + ' ' + body.error;
  else view.cancelling = true;
  refreshJobs();
}

$('submit').onclick = submit;
$('cancel').onclick = cancel;
$('token').value = localStorage.getItem('loraone-token') || '';
refreshJobs();
setInterval(refreshJobs, 2000);
