// The session explorer's page: plain JavaScript over the JSON API of explorer/server.py.
'use strict';

const $ = (id) => document.getElementById(id);
const COLOURS = ['#607d8b', '#e53935', '#43a047', '#1e88e5', '#fdd835', '#8e24aa'];
const state = { session: null, info: null, polling: null };

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const value = await response.json();
  if (!response.ok) throw new Error(value.error || response.statusText);
  return value;
}

function showError(error) {
  $('error').textContent = error ? String(error.message || error) : '';
  $('error').hidden = !error;
}

async function guarded(action) {
  try { showError(null); await action(); } catch (error) { showError(error); }
}

// -- the session list ---------------------------------------------------------------------------

async function showSessions() {
  $('sessions-view').hidden = false;
  const sessions = await api('/api/sessions');
  const body = $('sessions').querySelector('tbody');
  for (const s of sessions) {
    const row = body.insertRow();
    const link = document.createElement('a');
    link.href = '/session/' + encodeURIComponent(s.id);
    link.textContent = s.id;
    row.insertCell().append(link);
    for (const text of [s.robot_type, s.action_space, s.bags]) row.insertCell().textContent = text;
  }
  $('no-sessions').hidden = sessions.length > 0;
}

// -- one session --------------------------------------------------------------------------------

function frameIndex() { return Number($('frame').value); }

function drawTimeline() {
  const canvas = $('timeline');
  const context = canvas.getContext('2d');
  const actions = state.info.actions;
  const width = canvas.width / actions.length;
  context.clearRect(0, 0, canvas.width, canvas.height);
  actions.forEach((a, i) => {
    context.fillStyle = COLOURS[(a + COLOURS.length) % COLOURS.length];
    context.fillRect(i * width, 8, Math.max(width, 1), canvas.height - 8);
  });
  context.fillStyle = '#000';
  context.fillRect(frameIndex() * width, 0, Math.max(width, 2), 8);
}

function showFrame() {
  const i = frameIndex();
  const id = encodeURIComponent(state.session);
  $('current').src = `/api/frame?id=${id}&index=${i}&which=current`;
  $('next').src = `/api/frame?id=${id}&index=${i}&which=next`;
  $('frame-label').textContent =
    `frame ${i} / ${state.info.frames - 1}, action ${state.info.actions[i]}, t = ${state.info.times[i]} s`;
  $('current').dataset.index = i;
  drawTimeline();
}

async function loadCheckpoints() {
  const checkpoints = await api('/api/checkpoints?robot_type=' +
                                encodeURIComponent(state.info.robot_type));
  const select = $('checkpoint');
  select.replaceChildren();
  for (const c of checkpoints) {
    const option = document.createElement('option');
    option.value = c.path;
    option.textContent = `${c.robot_type}: ${c.path} (step ${c.predictor_training_step})`;
    select.append(option);
  }
  if (!checkpoints.length) {
    const option = document.createElement('option');
    option.textContent = 'no world model checkpoints found (--checkpoints DIR)';
    select.append(option);
  }
}

function describeModel(model) {
  $('model-info').textContent = `${model.source}: autoencoder step ${model.autoencoder_training_step}, ` +
    `predictor step ${model.predictor_training_step}, actions ${model.actions.join(', ')}`;
  for (const id of ['predict', 'train', 'save']) $(id).disabled = false;
}

function figure(src, caption) {
  const f = document.createElement('figure');
  const img = document.createElement('img');
  img.src = src;
  img.alt = caption;
  const c = document.createElement('figcaption');
  c.textContent = caption;
  f.append(img, c);
  return f;
}

function showPrediction(p) {
  const box = $('predictions');
  box.replaceChildren(figure(p.decoded, `decoded (MSE ${p.decoded_error.toFixed(5)})`));
  p.predictions.forEach((src, a) => {
    const mark = a === p.model.actions.indexOf(p.action) ? ' (taken)' : '';
    box.append(figure(src, `predicted next, action ${p.model.actions[a]}${mark} ` +
                           `(MSE ${p.prediction_errors[a].toFixed(5)})`));
  });
  box.append(figure(p.recorded_next, 'recorded next frame'));
  box.dataset.index = p.index;
  const rows = [['decoded vs. current', p.decoded_error],
    ...p.prediction_errors.map((e, a) => [`predicted (action ${p.model.actions[a]}) vs. recorded next`, e]),
    ...Object.entries(p.metrics)];
  const body = $('errors').querySelector('tbody');
  body.replaceChildren();
  for (const [name, value] of rows) {
    const row = body.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = Number(value).toPrecision(6);
  }
  $('errors').hidden = false;
  const attention = $('attention');
  attention.replaceChildren();
  const maps = Object.entries(p.attention);
  if (!maps.length && !p.levels.length && !Object.keys(p.metrics).length) {
    attention.textContent = 'This world model offers no attention maps or introspection metrics.';
  }
  for (const [name, src] of maps) attention.append(figure(src, name));
  for (const level of p.levels) {
    const row = document.createElement('div');
    row.className = 'frames level';
    level.predictions.forEach((src, a) =>
      row.append(figure(src, `${level.name}: predicted, actions ${level.labels[a]}`)));
    attention.append(row);
  }
}

function drawLosses(losses) {
  const canvas = $('loss-chart');
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  const keys = ['autoencoder_training_loss', 'predictor_training_loss'];
  const values = losses.flatMap((l) => keys.map((k) => l[k]).filter((v) => v > 0));
  if (!values.length) return;
  const logs = values.map(Math.log10);
  const low = Math.min(...logs), high = Math.max(...logs) + 1e-9;
  keys.forEach((key, k) => {
    context.strokeStyle = COLOURS[k + 1];
    context.beginPath();
    losses.forEach((l, i) => {
      if (!(l[key] > 0)) return;
      const x = (i / Math.max(losses.length - 1, 1)) * (canvas.width - 10) + 5;
      const y = canvas.height - 5 - ((Math.log10(l[key]) - low) / (high - low)) * (canvas.height - 10);
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
    context.fillStyle = COLOURS[k + 1];
    context.fillText(key, 8, 14 + 14 * k);
  });
}

function showProgress(p) {
  $('train-state').textContent = p.state;
  $('train-step').textContent = p.step || 0;
  $('train-message').textContent = p.message ? `(${p.message})` : '';
  $('pause').disabled = !['training', 'filling'].includes(p.state);
  $('resume').disabled = p.state !== 'paused';
  $('train').disabled = ['training', 'filling', 'pausing', 'paused', 'starting']
    .includes(p.state);
  drawLosses(p.losses || []);
  if (p.model) describeModel(p.model);
  if (['done', 'failed', 'idle'].includes(p.state)) {
    clearInterval(state.polling);
    state.polling = null;
    $('train').disabled = false;
  }
}

function poll() {
  if (state.polling) return;
  state.polling = setInterval(() => guarded(async () => showProgress(await api('/api/train'))), 300);
}

async function showSession(id) {
  state.session = id;
  state.info = await api('/api/session?id=' + encodeURIComponent(id));
  $('session-view').hidden = false;
  $('session-title').textContent = id;
  $('session-info').textContent = `robot type ${state.info.robot_type}; action space ` +
    `${state.info.action_space}; ${state.info.frames} frames answered by an action`;
  $('frame').max = state.info.frames - 1;
  $('train-stop').value = state.info.frames - 1;
  $('frame').addEventListener('input', showFrame);
  $('timeline').addEventListener('click', (event) => {
    const box = $('timeline').getBoundingClientRect();
    $('frame').value = Math.floor(((event.clientX - box.left) / box.width) * state.info.frames);
    showFrame();
  });
  $('load').addEventListener('click', () => guarded(async () =>
    describeModel(await api('/api/load', { path: $('checkpoint').value }))));
  $('predict').addEventListener('click', () => guarded(async () =>
    showPrediction(await api('/api/predict', { id: state.session, index: frameIndex() }))));
  $('train').addEventListener('click', () => guarded(async () => {
    const threshold = $('train-threshold').value;
    showProgress(await api('/api/train', {
      id: state.session, start: Number($('train-start').value), stop: Number($('train-stop').value),
      steps: Number($('train-steps').value), loss_threshold: threshold === '' ? null : Number(threshold) }));
    poll();
  }));
  $('pause').addEventListener('click', () => guarded(async () => showProgress(await api('/api/train/pause', {}))));
  $('resume').addEventListener('click', () => guarded(async () => {
    showProgress(await api('/api/train/resume', {}));
    poll();
  }));
  $('save').addEventListener('click', () => guarded(async () => {
    const saved = await api('/api/save', { directory: $('save-dir').value });
    $('save-result').textContent = 'saved ' + saved.path;
    describeModel(saved.model);
  }));
  showFrame();
  await loadCheckpoints();
}

guarded(async () => {
  const path = decodeURIComponent(window.location.pathname);
  if (path.startsWith('/session/')) await showSession(path.slice('/session/'.length));
  else await showSessions();
});
