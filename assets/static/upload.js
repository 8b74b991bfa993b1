// upload.js sends the files of an upload form as resumable (tus) uploads,
// with a progress bar, speed and time left per file, and shows each file's
// verdict without reloading the page. It enhances forms that carry
// data-upload-endpoint; without JavaScript the same form posts the files
// in one request.
//
// The checks here (size, extension) only save the user a wasted upload;
// the server checks everything again.
(function () {
  'use strict';

  // Uploads running at once. The server caps uploads per user (4 by
  // default), and three keep a slow line busy without starving any file.
  var PARALLEL = 3;

  // Waits before each automatic retry of a failed request, in
  // milliseconds. After the last one the file shows a Retry button, and it
  // is retried anyway when the browser comes back online.
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];

  // How long a note about an interrupted upload is kept in localStorage.
  var RESUME_NOTE_DAYS = 7;

  // What each stored status means to the uploader. A drop link's visitor
  // cannot download what they sent, so their page shows a shorter message.
  var VERDICTS = {
    clean: { label: 'Stored', status: 'clean', message: 'Scanned and clean. It can be downloaded now.',
      dropMessage: 'Received and scanned clean. Thank you.' },
    unscanned: { label: 'Stored', status: 'unscanned', message: 'Stored without a virus scan, as this server is set up.',
      dropMessage: 'Received. Thank you.' },
    pending: { label: 'Waiting for virus scan', status: 'pending', message: 'Stored. It can be downloaded once the virus scan has finished.',
      dropMessage: 'Received. It is being scanned for viruses.' }
  };

  function init() {
    if (!window.tus || !window.tus.isSupported) {
      return; // the plain form keeps working
    }
    var forms = document.querySelectorAll('form[data-upload-endpoint]');
    for (var i = 0; i < forms.length; i++) {
      enhance(forms[i]);
    }
  }

  function enhance(form) {
    var input = form.querySelector('input[type="file"]');
    var zone = form.querySelector('.dropzone');
    if (!input || !zone) {
      return;
    }

    var uploader = {
      form: form,
      input: input,
      zone: zone,
      endpoint: form.getAttribute('data-upload-endpoint'),
      chunkSize: Number(form.getAttribute('data-chunk-size')) || 32 * 1024 * 1024,
      maxSize: Number(form.getAttribute('data-max-file-size')) || 0,
      maxSizeText: form.getAttribute('data-max-file-text') || '',
      allowed: (form.getAttribute('data-allowed') || '').split(',').filter(Boolean),
      isDrop: form.getAttribute('data-upload-endpoint').indexOf('/d/') === 0,
      waiting: [],
      running: 0,
      items: []
    };

    buildUI(uploader);
    bindEvents(uploader);
    showInterrupted(uploader);
  }

  // buildUI turns the form into a drop zone with a file picker button, and
  // adds the list of uploads and the region that screen readers announce.
  function buildUI(u) {
    u.form.classList.add('enhanced');
    u.input.removeAttribute('required');

    var submit = u.form.querySelector('button[type="submit"]');
    if (submit) {
      submit.closest('.actions').hidden = true; // files start when chosen
    }
    var label = u.zone.querySelector('label');
    if (label) {
      label.classList.add('button');
    }
    var hint = document.createElement('p');
    hint.className = 'drop-hint';
    hint.textContent = u.input.multiple ? 'or drop files here' : 'or drop a file here';
    u.zone.insertBefore(hint, u.zone.querySelector('.limits'));

    u.list = document.createElement('ul');
    u.list.className = 'upload-queue';
    u.list.setAttribute('aria-label', 'Uploads');
    u.form.insertAdjacentElement('afterend', u.list);

    u.live = document.createElement('p');
    u.live.className = 'visually-hidden';
    u.live.setAttribute('role', 'status');
    u.live.setAttribute('aria-live', 'polite');
    u.list.insertAdjacentElement('afterend', u.live);
  }

  function bindEvents(u) {
    u.input.addEventListener('change', function () {
      addFiles(u, u.input.files);
      u.input.value = ''; // so the same file can be chosen again
    });
    u.form.addEventListener('submit', function (event) {
      event.preventDefault();
      addFiles(u, u.input.files);
      u.input.value = '';
    });

    // Files dropped anywhere on the page go to this form.
    var depth = 0;
    document.addEventListener('dragenter', function (event) {
      if (hasFiles(event)) {
        depth++;
        u.zone.classList.add('dragover');
      }
    });
    document.addEventListener('dragleave', function (event) {
      if (hasFiles(event) && --depth <= 0) {
        depth = 0;
        u.zone.classList.remove('dragover');
      }
    });
    document.addEventListener('dragover', function (event) {
      if (hasFiles(event)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = 'copy';
      }
    });
    document.addEventListener('drop', function (event) {
      if (!hasFiles(event)) {
        return;
      }
      event.preventDefault();
      depth = 0;
      u.zone.classList.remove('dragover');
      var files = event.dataTransfer.files;
      addFiles(u, u.input.multiple ? files : Array.prototype.slice.call(files, 0, 1));
    });

    window.addEventListener('online', function () {
      u.items.forEach(function (item) {
        if (item.state === 'offline') {
          setState(item, 'queued', 'Waiting', '');
          u.waiting.push(item);
        }
      });
      pump(u);
    });
  }

  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, 'Files') >= 0;
  }

  function addFiles(u, files) {
    var added = 0;
    for (var i = 0; i < files.length; i++) {
      forgetInterrupted(u, files[i].name);
      var item = newItem(u, files[i]);
      var problem = checkFile(u, files[i]);
      if (problem) {
        finish(u, item, 'rejected', 'Not sent', problem);
        continue;
      }
      u.waiting.push(item);
      added++;
    }
    if (added > 0) {
      announce(u, added === 1 ? 'Uploading 1 file.' : 'Uploading ' + added + ' files.');
    }
    pump(u);
  }

  // checkFile returns why the server would refuse the file, or "".
  function checkFile(u, file) {
    if (u.maxSize > 0 && file.size > u.maxSize) {
      return 'The file is ' + formatBytes(file.size) + ', larger than the maximum of ' + u.maxSizeText + '.';
    }
    var dot = file.name.lastIndexOf('.');
    var ext = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : '';
    if (u.allowed.length > 0 && u.allowed.indexOf(ext) < 0) {
      return ext
        ? 'Files ending in .' + ext + ' are not accepted here.'
        : 'The file name has no extension, so its type cannot be checked. Rename it like report.pdf.';
    }
    return '';
  }

  // newItem adds a file's row: name, size, status, progress bar, numbers,
  // message and buttons.
  function newItem(u, file) {
    var li = document.createElement('li');
    li.className = 'upload-item';
    li.setAttribute('data-file-name', file.name);

    var head = element('div', 'upload-head');
    head.appendChild(element('span', 'fname', file.name));
    head.appendChild(element('span', 'muted', formatBytes(file.size)));
    var status = element('span', 'status queued', 'Waiting');
    head.appendChild(status);
    li.appendChild(head);

    var bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute('aria-label', 'Upload of ' + file.name);
    li.appendChild(bar);

    var numbers = element('p', 'upload-numbers');
    li.appendChild(numbers);
    var message = element('p', 'why');
    li.appendChild(message);

    var actions = element('div', 'upload-actions');
    var cancel = button('Cancel', 'Cancel the upload of ' + file.name);
    var retry = button('Retry', 'Retry the upload of ' + file.name);
    retry.hidden = true;
    actions.appendChild(cancel);
    actions.appendChild(retry);
    li.appendChild(actions);

    u.list.appendChild(li);
    var item = {
      file: file, li: li, status: status, bar: bar, numbers: numbers, message: message,
      cancel: cancel, retry: retry, upload: null, state: 'queued', samples: []
    };
    li.setAttribute('data-state', item.state);
    u.items.push(item);

    cancel.addEventListener('click', function () { cancelItem(u, item); });
    retry.addEventListener('click', function () {
      if (u.waiting.indexOf(item) < 0 && item.state !== 'uploading') {
        setState(item, 'queued', 'Waiting', '');
        u.waiting.push(item);
        pump(u);
      }
    });
    return item;
  }

  function pump(u) {
    while (u.running < PARALLEL && u.waiting.length > 0) {
      start(u, u.waiting.shift());
    }
  }

  // start begins or resumes one file. A file sent before, from this
  // browser, continues where it stopped: tus-js-client keeps each upload's
  // URL in localStorage under a fingerprint of the file.
  function start(u, item) {
    u.running++;
    item.samples = [];
    setState(item, 'uploading', 'Uploading', '');
    item.retry.hidden = true;
    item.cancel.hidden = false;

    var upload = new window.tus.Upload(item.file, {
      endpoint: new URL(u.endpoint, window.location.href).href,
      chunkSize: u.chunkSize,
      retryDelays: RETRY_DELAYS,
      metadata: metadata(u, item.file),
      removeFingerprintOnSuccess: true,
      onShouldRetry: shouldRetry,
      onProgress: function (sent, total) { showProgress(item, sent, total); },
      onSuccess: function (payload) {
        u.running--;
        showResult(u, item, payload.lastResponse);
        pump(u);
      },
      onError: function (err) {
        u.running--;
        showError(u, item, err);
        pump(u);
      }
    });
    item.upload = upload;

    upload.findPreviousUploads().then(function (previous) {
      if (previous.length > 0) {
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    });
  }

  // metadata returns what the upload sends besides its bytes: the file's
  // name and type, and on a drop link's page the sender's name and note
  // from the form.
  function metadata(u, file) {
    var meta = { filename: file.name, filetype: file.type || 'application/octet-stream' };
    ['uploader_name', 'note'].forEach(function (field) {
      var input = u.form.elements[field];
      if (input && input.value) {
        meta[field] = input.value;
      }
    });
    return meta;
  }

  // shouldRetry retries interrupted transfers and busy responses, but never
  // a verdict or a request the server rejected for good.
  function shouldRetry(err) {
    var res = err.originalResponse;
    if (!res) {
      return navigator.onLine !== false;
    }
    if (res.getHeader('X-Vaultdrop-Status')) {
      return false;
    }
    var status = res.getStatus();
    if (status === 408 || status === 409 || status === 423 || status === 429) {
      return true;
    }
    return status >= 500 && status !== 501 && status !== 507;
  }

  function showProgress(item, sent, total) {
    var percent = total > 0 ? Math.floor(sent / total * 100) : 100;
    item.bar.value = percent;
    if (sent >= total) {
      setState(item, 'checking', 'Checking', '');
      item.numbers.textContent = '100% · checking the file';
      item.cancel.hidden = true;
      return;
    }

    var now = Date.now();
    item.samples.push([now, sent]);
    while (item.samples.length > 2 && now - item.samples[0][0] > 5000) {
      item.samples.shift();
    }
    var first = item.samples[0];
    var seconds = (now - first[0]) / 1000;
    var text = percent + '%';
    if (seconds >= 1) {
      var rate = (sent - first[1]) / seconds;
      text += ' · ' + formatBytes(rate) + '/s';
      if (rate > 0) {
        text += ' · ' + formatDuration((total - sent) / rate) + ' left';
      }
    }
    item.numbers.textContent = text;
  }

  // showResult reads the verdict from the response that completed the
  // upload, or from the HEAD response of an upload that finished earlier.
  function showResult(u, item, res) {
    var status = res ? res.getHeader('X-Vaultdrop-Status') : '';
    if (status === 'rejected') {
      var code = res.getHeader('X-Vaultdrop-Error') || '';
      finish(u, item, 'rejected', rejectionLabel(code), decodeMessage(res.getHeader('X-Vaultdrop-Message')));
      return;
    }
    var verdict = VERDICTS[status] || { label: 'Stored', status: 'stored', message: '', dropMessage: '' };
    item.li.setAttribute('data-file-id', (res && res.getHeader('X-Vaultdrop-File-Id')) || '');
    finish(u, item, 'stored', verdict.label, u.isDrop ? verdict.dropMessage : verdict.message, verdict.status);
    refreshFileList(u);
  }

  function showError(u, item, err) {
    var res = err.originalResponse;
    if (res) {
      var body = parseError(res.getBody());
      var final = res.getHeader('X-Vaultdrop-Status') === 'rejected';
      var code = res.getHeader('X-Vaultdrop-Error') || body.code;
      var message = body.message || decodeMessage(res.getHeader('X-Vaultdrop-Message')) ||
        'The server answered ' + res.getStatus() + '.';
      if (final || isFinalRejection(res.getStatus())) {
        finish(u, item, 'rejected', rejectionLabel(code), message);
        return;
      }
      failed(u, item, 'failed', message);
      return;
    }
    if (navigator.onLine === false) {
      failed(u, item, 'offline', 'The network is down. The upload continues by itself when it is back.');
      return;
    }
    failed(u, item, 'failed', 'The connection to the server was lost. Retry to continue where it stopped.');
  }

  // isFinalRejection reports a status that sending again cannot fix: the
  // file itself was rejected.
  function isFinalRejection(status) {
    return status === 400 || status === 413 || status === 415 || status === 422;
  }

  function rejectionLabel(code) {
    if (code === 'infected') {
      return 'Infected';
    }
    if (code === 'unscannable') {
      return 'Could not be scanned';
    }
    return 'Rejected';
  }

  function failed(u, item, state, message) {
    setState(item, state, state === 'offline' ? 'Paused' : 'Failed', message);
    item.retry.hidden = false;
    item.cancel.hidden = false;
    announce(u, item.file.name + ': ' + (state === 'offline' ? 'paused. ' : 'failed. ') + message);
  }

  function finish(u, item, state, label, message, statusClass) {
    setState(item, state, label, message, statusClass);
    item.cancel.hidden = true;
    item.retry.hidden = true;
    item.numbers.textContent = '';
    if (state === 'stored') {
      item.bar.value = 100;
    }
    announce(u, item.file.name + ': ' + label.toLowerCase() + '. ' + (message || ''));
  }

  function cancelItem(u, item) {
    var queued = u.waiting.indexOf(item);
    if (queued >= 0) {
      u.waiting.splice(queued, 1);
    } else if (item.upload && item.state === 'uploading') {
      u.running--;
      pump(u);
    }
    if (item.upload) {
      item.upload.abort(true).catch(function () {}); // true also deletes what the server has
    }
    setState(item, 'cancelled', 'Cancelled', '');
    item.numbers.textContent = '';
    item.cancel.hidden = true;
    item.retry.hidden = false;
    announce(u, item.file.name + ': cancelled.');
  }

  function setState(item, state, label, message, statusClass) {
    item.state = state;
    item.li.setAttribute('data-state', state);
    item.status.className = 'status ' + (statusClass || state);
    item.status.textContent = label;
    item.message.textContent = message || '';
  }

  function announce(u, text) {
    u.live.textContent = text;
  }

  // showInterrupted lists uploads from this browser that stopped before
  // their end, so the user knows to choose the same files again.
  function showInterrupted(u) {
    var names = [];
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var key = localStorage.key(i);
        if (key.indexOf('tus::') !== 0) {
          continue;
        }
        var entry = JSON.parse(localStorage.getItem(key));
        var age = Date.now() - new Date(entry.creationTime).getTime();
        if (!(age < RESUME_NOTE_DAYS * 86400000)) {
          localStorage.removeItem(key);
          i--;
          continue;
        }
        if (entry.metadata && entry.metadata.filename) {
          names.push(entry.metadata.filename);
        }
      }
    } catch (e) {
      return; // storage disabled: nothing to resume
    }
    if (names.length === 0) {
      return;
    }
    var note = element('p', 'alert warn upload-resume');
    note.setAttribute('role', 'status');
    note.textContent = (names.length === 1 ? 'An upload was interrupted: ' : 'Uploads were interrupted: ') +
      names.join(', ') + '. Choose the same ' + (names.length === 1 ? 'file' : 'files') +
      ' again to continue where ' + (names.length === 1 ? 'it' : 'they') + ' stopped.';
    u.form.insertAdjacentElement('beforebegin', note);
    u.interrupted = { note: note, names: names };
  }

  // forgetInterrupted takes a file chosen again off the note about
  // interrupted uploads, and removes the note once none is left.
  function forgetInterrupted(u, name) {
    if (!u.interrupted) {
      return;
    }
    var names = u.interrupted.names;
    var at = names.indexOf(name);
    if (at >= 0) {
      names.splice(at, 1);
    }
    if (names.length === 0) {
      u.interrupted.note.remove();
      u.interrupted = null;
    }
  }

  // The page's lists of stored files: "Your files" on the Files page and
  // "What you sent" on a drop link's page.
  var LISTS = ['section[aria-labelledby="list-title"]', 'section[aria-labelledby="sent-title"]'];

  // refreshFileList replaces the page's list of files with the server's
  // current one, so a stored file appears without a reload.
  var refreshTimer = 0;
  function refreshFileList(u) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch(window.location.pathname, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (res) { return res.ok ? res.text() : ''; })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, 'text/html');
          LISTS.forEach(function (selector) {
            var fresh = page.querySelector(selector);
            var current = document.querySelector(selector);
            if (!fresh) {
              return;
            }
            fresh = document.importNode(fresh, true);
            if (current) {
              current.replaceWith(fresh);
            } else {
              u.form.closest('section').insertAdjacentElement('afterend', fresh);
            }
          });
        })
        .catch(function () {});
    }, 300);
  }

  function parseError(text) {
    try {
      var body = JSON.parse(text);
      return (body && body.error) || {};
    } catch (e) {
      return {};
    }
  }

  function decodeMessage(header) {
    if (!header) {
      return '';
    }
    try {
      return decodeURIComponent(header);
    } catch (e) {
      return header;
    }
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    el.className = className;
    if (text) {
      el.textContent = text;
    }
    return el;
  }

  function button(text, label) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    return b;
  }

  function formatBytes(n) {
    var units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function formatDuration(seconds) {
    if (seconds < 60) {
      return Math.max(1, Math.round(seconds)) + ' s';
    }
    if (seconds < 3600) {
      return Math.round(seconds / 60) + ' min';
    }
    return (seconds / 3600).toFixed(1) + ' h';
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
