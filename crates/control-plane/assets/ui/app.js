// keybrake console: the few behaviours htmx does not cover. Loaded as a file (the
// Content-Security-Policy allows no inline script).
(function () {
  'use strict';

  // "Copy" next to the one-time vault key: the clipboard API where the page is a secure
  // context (https, localhost), else a selection and execCommand.
  function copy(button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    if (!target) return;
    var text = target.textContent.trim();
    var done = function () {
      var note = document.getElementById(target.id + '-copied');
      if (note) note.hidden = false;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(target, done); });
    } else {
      fallback(target, done);
    }
  }

  function fallback(target, done) {
    var range = document.createRange();
    range.selectNodeContents(target);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    if (document.execCommand('copy')) done();
  }

  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-copy]');
    if (button) copy(button);
  });

  // The live tail's state, for the operator (and for tests): connected or reconnecting.
  document.addEventListener('htmx:sseOpen', function () {
    var s = document.getElementById('tail-status');
    if (s) s.classList.add('connected');
    var empty = document.getElementById('no-records');
    if (empty) empty.dataset.live = '1';
  });
  document.addEventListener('htmx:sseError', function () {
    var s = document.getElementById('tail-status');
    if (s) s.classList.remove('connected');
  });
  document.addEventListener('htmx:sseMessage', function () {
    var empty = document.getElementById('no-records');
    if (empty) empty.hidden = true;
  });
})();
