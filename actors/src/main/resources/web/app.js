// loraone web page: job list (polled), one job's live view (server-sent events), submit and cancel.
'use strict';
const $ = (id) => document.getElementById(id);
const ENDED = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
const EVENTS = ['PhaseChanged', 'WorkersChanged', 'StepDone', 'Evaluated', 'Checkpointed', 'Traffic', 'Finished', 'Failed',
  'Submitted', 'Started', 'Requeued', 'CancelRequested', 'Cancelled'];
const ARTIFACT_LABELS = { adapter: 'PEFT adapter (zip)', onnx: 'merged ONNX model' };
// A task's headline metric (TaskMetrics.headline): perplexity for causal LM, accuracy for classification, recall@1
// for embeddings. Accuracy and recall have a fixed 0-1 axis; perplexity's axis grows with its largest value.
const METRICS = { perplexity: { digits: 2 }, accuracy: { digits: 3, max: 1 }, 'recall@1': { digits: 3, max: 1 } };
let selected = null;
let source = null;
let view = null;
let renderPending = false;

// A service with tokens (serve --token / --token-file) wants one on every request but the page's files. fetch()
// sends it as Authorization: Bearer. The browser's own requests (EventSource, artefact links) cannot carry that
// header, so a SameSite=Strict cookie holds the token too; the service takes the cookie for GET only, so a
// submit or cancel still needs the header (no cross-site request can make one).
function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = $('token').value;
  if (t) h['Authorization'] = 'Bearer ' + t;
  return h;
}

/** Keeps the token field's value in this browser and in the cookie, then reloads what it shows. */
function saveToken() {
  const t = $('token').value.trim();
  if (t) localStorage.setItem('loraone-token', t);
  else localStorage.removeItem('loraone-token');
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = 'loraone-token=' + encodeURIComponent(t) + '; path=/; SameSite=Strict' + secure
    + (t ? '' : '; Max-Age=0');
}

/** The message for a 401 or 403 answer: the service wants a token (with another scope). */
function denied(res, b) {
  return res.status === 401 ? 'this service needs a token: enter it at the top right'
    : res.status + ' ' + (b.error || 'forbidden');
}

/** The response's JSON body, or {error: its text} when it is not JSON (a proxy's or Pekko's plain-text error). */
async function body(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    return { error: text || res.statusText };
  }
}

const fmt = (v, digits) => (v === undefined || v === null || !Number.isFinite(Number(v)) ? '-' : Number(v).toFixed(digits));

async function refreshJobs() {
  let jobs;
  try {
    const res = await fetch('/jobs', { headers: headers() });
    if (res.status === 401 || res.status === 403) {
      $('conn').textContent = denied(res, await body(res));
      return;
    }
    jobs = await res.json();
    $('conn').textContent = '';
  } catch (e) {
    $('conn').textContent = 'service unreachable';
    return;
  }
  const tbody = $('jobs').querySelector('tbody');
  tbody.innerHTML = '';
  if (!jobs.length) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    tr.innerHTML = '<td colspan="5">no jobs yet: submit one below</td>';
    tbody.appendChild(tr);
  }
  for (const j of jobs.slice().reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.id = j.id;
    if (j.id === selected) tr.className = 'selected';
    for (const v of [j.id, j.state, j.phase, j.steps ? j.step + '/' + j.steps : '-', fmt(j.loss, 4)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    tr.children[1].className = j.state;
    tr.title = (j.waiting || j.reason || j.name) + (j.submittedBy ? ' (submitted by ' + j.submittedBy + ')' : '');
    if (view && j.id === view.id) schedule(view, j);
    tr.onclick = () => select(j.id);
    tbody.appendChild(tr);
  }
}

async function submit() {
  const out = $('submit-result');
  out.textContent = 'submitting ...';
  out.className = 'muted';
  let res, b;
  try {
    res = await fetch('/jobs', { method: 'POST', headers: headers({ 'Content-Type': 'application/hocon' }), body: $('spec').value });
    b = await body(res);
  } catch (e) {
    out.textContent = 'service unreachable: ' + e.message;
    out.className = 'error';
    return;
  }
  if (res.status === 401) {
    out.textContent = denied(res, b);
    out.className = 'error';
    return;
  }
  if (res.status !== 201) {
    out.textContent = res.status + ' ' + b.error + (b.problems ? '\n' + b.problems.join('\n') : '');
    out.className = 'error';
    return;
  }
  out.textContent = 'submitted ' + b.id;
  await refreshJobs();
  select(b.id);
}

function select(id) {
  selected = id;
  if (source) source.close();
  view = { id, curve: [], evals: [], timeline: [], workers: [], state: '', phase: '', step: 0, steps: 0, reason: '', artifacts: {},
    seconds: NaN, checkpoint: -1, metric: null };
  $('detail').hidden = false;
  $('nothing').hidden = true;
  $('detail-title').textContent = id;
  if (decodeURIComponent(location.hash.slice(1)) !== id) history.replaceState(null, '', '#' + encodeURIComponent(id)); // a link to this view
  render();
  details(view);
  const v = view;
  source = new EventSource('/jobs/' + encodeURIComponent(id) + '/events');
  source.onmessage = (m) => { if (m.data) apply(JSON.parse(m.data)); }; // a heartbeat (15 s without events) is empty
  for (const kind of EVENTS) source.addEventListener(kind, (m) => apply(JSON.parse(m.data)));
  source.onerror = () => {
    if (v === view && ENDED.includes(v.state)) source.close(); // the stream ends with the job; don't reconnect
  };
  for (const tr of $('jobs').querySelectorAll('tbody tr')) tr.className = tr.dataset.id === id ? 'selected' : '';
}

/** The scheduler's words on a job (GET /jobs and /jobs/{id}): why it waits, or where it runs and what it needs. */
function schedule(v, j) {
  const text = j.waiting ? 'waiting: ' + j.waiting
    : j.nodes ? 'on ' + (j.nodes.length ? j.nodes.join(', ') : 'no node now') + (j.memory ? ', needs ' + j.memory + ' per worker' : '')
    : '';
  if (text === v.schedule) return;
  v.schedule = text;
  scheduleRender();
}

/** What GET /jobs/{id} says that the events don't: the stored state and reason, the artefact links. */
async function details(v) {
  let j;
  try {
    const res = await fetch('/jobs/' + encodeURIComponent(v.id), { headers: headers() });
    if (res.status !== 200) return;
    j = await res.json();
  } catch (e) {
    return;
  }
  if (v !== view) return;
  if (!ENDED.includes(v.state) || ENDED.includes(j.state)) v.state = j.state; // events may be ahead of this answer
  if (j.reason) v.reason = j.reason;
  v.by = j.submittedBy || '';
  schedule(v, j);
  v.artifacts = j.artifacts || {};
  if (j.adapterSha256) v.sha = j.adapterSha256;
  render();
}

/** An event's task metrics: its metrics object, or {accuracy} of an older service's events; sets the job's headline. */
function metricsOf(e) {
  const m = e.metrics || (e.accuracy !== undefined ? { accuracy: e.accuracy } : {});
  if (!view.metric) view.metric = Object.keys(METRICS).find((k) => k in m) || null;
  return m;
}

/** The headline metric of the job: the one its events report (accuracy until the first step says otherwise). */
const headline = () => view.metric || 'accuracy';

function apply(e) {
  if (!view || e.job !== view.id) return;
  switch (e.event) {
    case 'PhaseChanged': view.phase = e.phase; view.timeline.push([e.phase, e.time, e.detail]); break;
    case 'WorkersChanged': view.workers = e.workers; view.workersDetail = e.detail; break;
    case 'StepDone':
      view.step = e.step; view.steps = e.steps; view.seconds = e.seconds;
      view.curve.push([e.step, Number(e.loss), metricsOf(e)]);
      break;
    case 'Evaluated': view.evals.push([e.step, metricsOf(e), Number(e.loss)]); break;
    case 'Checkpointed': view.checkpoint = e.step; break;
    case 'Started': view.state = 'RUNNING'; break;
    case 'Submitted': case 'Requeued': view.state = 'QUEUED'; view.phase = 'QUEUED'; view.timeline.push(['QUEUED', e.time, e.detail]); break;
    case 'Finished':
      view.state = 'SUCCEEDED'; view.phase = 'DONE'; view.sha = e.adapterSha256;
      view.timeline.push(['SUCCEEDED', e.time, '']); // the adapter's sha256 is under Artefacts
      details(view);
      break;
    case 'Failed':
      view.state = view.cancelling ? 'CANCELLED' : 'FAILED'; view.phase = view.state; view.reason = e.reason;
      if (!view.cancelling) view.timeline.push(['FAILED', e.time, e.reason]); // a cancel's Failed is followed by Cancelled
      break;
    case 'CancelRequested': view.cancelling = true; view.reason = e.detail; break;
    case 'Cancelled':
      view.state = 'CANCELLED'; view.phase = 'CANCELLED'; view.reason = e.detail;
      view.timeline.push(['CANCELLED', e.time, e.detail]);
      break;
    default: return; // Traffic: nothing shown
  }
  scheduleRender();
}

/** One render per burst of events (a replayed job sends thousands at once). */
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => { renderPending = false; render(); }, 40);
}

function seconds(ms) {
  const s = ms / 1000;
  return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
}

function render() {
  if (!view) return;
  $('state').textContent = view.state;
  $('state').className = view.state;
  $('phase').textContent = view.phase;
  $('step').textContent = view.step + '/' + view.steps;
  $('reason').textContent = view.reason || '';
  $('schedule').textContent = view.schedule || '';
  $('by').textContent = view.by || '';
  $('by-row').hidden = !view.by;
  $('cancel').disabled = !view.state || ENDED.includes(view.state) || !!view.cancelling;
  $('workers').textContent = (view.workers.length ? view.workers.join(', ') : 'none') + (view.workersDetail ? ' (' + view.workersDetail + ')' : '');

  const metric = headline();
  const digits = METRICS[metric].digits;
  $('chart-title').textContent = 'Training loss and ' + metric;
  $('loss-chart').setAttribute('aria-label', 'training loss and ' + metric + ' per step');
  $('legend-train').textContent = 'train ' + metric + ' (right axis)';
  $('legend-eval').textContent = 'eval ' + metric;
  const last = view.curve[view.curve.length - 1];
  const ev = view.evals[view.evals.length - 1];
  const stats = [];
  if (last) stats.push('loss ' + fmt(last[1], 4), 'train ' + metric + ' ' + fmt(last[2][metric], digits));
  if (ev) stats.push('eval ' + metric + ' ' + fmt(ev[1][metric], digits) + ' at step ' + ev[0]);
  if (Number.isFinite(view.seconds)) stats.push(view.seconds.toFixed(2) + ' s/step');
  if (view.checkpoint >= 0) stats.push('checkpoint at step ' + view.checkpoint);
  $('chart-stats').textContent = stats.join(' · ');

  const tl = $('timeline');
  tl.innerHTML = '';
  view.timeline.forEach(([phase, time, detail], i) => {
    const li = document.createElement('li');
    const next = view.timeline[i + 1];
    const ended = ENDED.includes(phase);
    const took = next ? next[1] - time : (ended || ENDED.includes(view.state) ? null : Date.now() - time);
    li.innerHTML = '<span class="time"></span> <b></b><span class="detail"></span><span class="took"></span>';
    li.children[0].textContent = new Date(time).toLocaleTimeString();
    li.children[1].textContent = phase;
    li.children[1].className = phase;
    li.children[2].textContent = detail ? ': ' + detail : '';
    li.children[3].textContent = took === null ? '' : ' (' + seconds(took) + (next ? '' : ' so far') + ')';
    tl.appendChild(li);
  });

  const arts = $('artifacts');
  arts.innerHTML = '';
  for (const [name, href] of Object.entries(view.artifacts || {})) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = href;
    a.textContent = ARTIFACT_LABELS[name] || name;
    li.appendChild(a);
    arts.appendChild(li);
  }
  if (view.sha && arts.children.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'adapter sha256 ' + view.sha;
    arts.appendChild(li);
  }
  if (!arts.children.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = view.state === 'SUCCEEDED' ? 'loading ...' : ENDED.includes(view.state) ? 'none: the job did not finish' : 'when the job has finished';
    arts.appendChild(li);
  }
  chart();
}

/** Round numbers for an axis from 0 to about max: [step, top]. */
function niceAxis(max, ticks) {
  if (!(max > 0)) max = 1;
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return [step, step * Math.ceil(max / step - 1e-9)];
}

function chart() {
  const svg = $('loss-chart');
  const W = Math.max(320, Math.round(svg.getBoundingClientRect().width) || 600), H = 240;
  const L = 54, R = 56, T = 12, B = 28; // the margins hold the ticks and the rotated axis labels
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const curve = view.curve;
  const lastStep = curve.length ? curve[curve.length - 1][0] : 0;
  const [xStep, xMax] = niceAxis(Math.max(10, lastStep, ...view.evals.map((p) => p[0])), 6);
  const losses = curve.map((p) => p[1]).filter(Number.isFinite);
  const [yStep, yMax] = niceAxis(losses.length ? Math.max(...losses) : 1, 4);
  // the right axis: the headline metric, of training steps [step, value] and evaluations
  const metric = headline();
  const train = curve.map((p) => [p[0], Number(p[2][metric])]).filter((p) => Number.isFinite(p[1]));
  const evalPts = view.evals.map((p) => [p[0], Number(p[1][metric])]).filter((p) => Number.isFinite(p[1]));
  const mMax = METRICS[metric].max;
  const [mStep, mTop] = mMax ? [mMax / 2, mMax]
    : niceAxis(Math.max(0, ...train.map((p) => p[1]), ...evalPts.map((p) => p[1])), 4);
  const x = (s) => L + (W - L - R) * (s / xMax);
  const yLoss = (v) => H - B - (H - T - B) * (v / yMax);
  const yAcc = (v) => H - B - (H - T - B) * (v / mTop);
  const parts = [];
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    parts.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + yLoss(v).toFixed(1) + '" y2="' + yLoss(v).toFixed(1) + '"/>');
    parts.push('<text class="tick loss" x="' + (L - 6) + '" y="' + (yLoss(v) + 4).toFixed(1) + '" text-anchor="end">' + +v.toFixed(3) + '</text>');
  }
  for (let v = 0; v <= mTop + 1e-9; v += mStep) {
    const y = (yAcc(v) + 4).toFixed(1);
    parts.push('<text class="tick acc" x="' + (W - R + 6) + '" y="' + y + '">' + +v.toFixed(3) + '</text>');
  }
  const mid = (T + H - B) / 2;
  const label = (cls, id, x0, angle, text) => '<text class="tick ' + cls + ' axis-label" id="' + id + '" x="' + x0
    + '" y="' + mid + '" text-anchor="middle" transform="rotate(' + angle + ' ' + x0 + ' ' + mid + ')">' + text + '</text>';
  parts.push(label('loss', 'loss-axis', 12, -90, 'loss'), label('acc', 'metric-axis', W - 10, 90, metric));
  for (let s = 0; s <= xMax + 1e-9; s += xStep) {
    parts.push('<text class="tick" x="' + x(s).toFixed(1) + '" y="' + (H - B + 16) + '" text-anchor="middle">' + +s.toFixed(2) + '</text>');
  }
  parts.push('<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>');
  parts.push('<text class="tick" x="' + (W - R + 14) + '" y="' + (H - B + 16) + '">step</text>');
  const path = (pts, cls) => {
    if (!pts.length) return '';
    const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + p[1].toFixed(1)).join(' ');
    return '<path class="' + cls + '" data-points="' + pts.length + '" d="' + d + '"/>';
  };
  parts.push(path(train.map((p) => [p[0], yAcc(p[1])]), 'acc-line'));
  parts.push(path(curve.filter((p) => Number.isFinite(p[1])).map((p) => [p[0], yLoss(p[1])]), 'loss-line'));
  const evals = evalPts.map((p) => [p[0], yAcc(p[1])]);
  parts.push(path(evals, 'eval-line'));
  for (const [s, y] of evals) parts.push('<circle class="eval-point" cx="' + x(s).toFixed(1) + '" cy="' + y.toFixed(1) + '" r="3.5"/>');
  if (!curve.length) {
    const msg = ENDED.includes(view.state) ? 'no training steps' : 'waiting for the first training step';
    parts.push('<text class="empty" x="' + (W / 2) + '" y="' + (H / 2) + '" text-anchor="middle">' + msg + '</text>');
  }
  svg.innerHTML = parts.join('');
}

async function cancel() {
  if (!view) return;
  const v = view;
  $('cancel').disabled = true;
  let res, b;
  try {
    res = await fetch('/jobs/' + encodeURIComponent(v.id) + '/cancel', { method: 'POST', headers: headers() });
    b = await body(res);
  } catch (e) {
    res = { status: 0 };
    b = { error: 'service unreachable' };
  }
  if (v !== view) return;
  if (res.status !== 202) {
    view.reason = 'cancel: ' + (res.status || '') + ' ' + b.error;
  } else {
    view.cancelling = true;
    if (!ENDED.includes(view.state)) view.reason = 'cancel requested';
  }
  render();
  refreshJobs();
}

$('submit').onclick = submit;
$('cancel').onclick = cancel;
$('token').value = localStorage.getItem('loraone-token') || '';
saveToken();
$('token').onchange = () => {
  saveToken();
  refreshJobs();
  if (view) select(view.id);
};
window.addEventListener('resize', () => { if (view) chart(); });
refreshJobs();
if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)));
setInterval(refreshJobs, 2000);
setInterval(() => { if (view && !ENDED.includes(view.state)) scheduleRender(); }, 1000); // the running phase's "so far"
