// Usher's player: hls.js on the page's <video>, set up from the data- attributes the
// server wrote (the page runs no inline script, so its CSP can forbid it).
(function () {
  'use strict';

  var root = document.documentElement;
  var video = document.getElementById('usher-video');
  var box = document.getElementById('usher-message');
  if (!video || !box) return;
  var cfg = video.dataset;
  // The embedding site's origin, written by the server from the page request it
  // checked. Usher's edge believes `parentOrigin` only on requests whose Referer is
  // this page, so every request we make for the video must carry it.
  var parentOrigin = cfg.parentOrigin || '';
  var startTime = cfg.startTime === '' ? -1 : Number(cfg.startTime);
  var autoplay = cfg.autoplay === 'true';
  var loadAtOnce = autoplay || cfg.preload === 'auto';

  function setState(s) {
    root.dataset.state = s;
  }

  function withParent(url) {
    if (!parentOrigin) return url;
    var u = new URL(url, location.href);
    if (u.origin !== location.origin) return url;
    u.searchParams.set('parentOrigin', parentOrigin);
    return u.href;
  }

  function show(headline, detail) {
    box.querySelector('.usher-headline').textContent = headline;
    box.querySelector('.usher-detail').textContent = detail || '';
    box.hidden = false;
    video.classList.add('usher-hidden');
  }

  // The edge answers a refusal with a short plain reason; show it rather than a frozen
  // frame (a key revoked or a token expired mid-playback).
  function refused(code, reason) {
    var headline =
      code === 401 ? 'This link is no longer valid'
        : code === 403 ? 'Playback was refused'
          : 'This video is no longer available';
    setState('refused');
    root.dataset.status = String(code);
    video.pause();
    show(headline, reason);
  }

  function responseText(xhr) {
    try {
      if (!xhr || typeof xhr.responseType !== 'string') return '';
      var text = '';
      if (xhr.responseType === '' || xhr.responseType === 'text') text = xhr.responseText;
      else if (xhr.response instanceof ArrayBuffer) text = new TextDecoder().decode(xhr.response);
      text = (text || '').trim();
      if (text.length > 200) text = text.slice(0, 200) + '…';
      if (!text) return '';
      // The edge's reasons are terse lower-case phrases ("token expired").
      text = text.charAt(0).toUpperCase() + text.slice(1);
      return /[.!?…]$/.test(text) ? text : text + '.';
    } catch (e) {
      return '';
    }
  }

  function tryPlay() {
    var p = video.play();
    // Blocked autoplay leaves the poster and controls; the viewer presses play.
    if (p && p.catch) p.catch(function () {});
  }

  video.addEventListener('playing', function () {
    if (root.dataset.state !== 'refused') setState('playing');
  });
  if (!video.controls) {
    video.addEventListener('click', function () {
      if (video.paused) tryPlay();
      else video.pause();
    });
  }

  var src = withParent(new URL(cfg.src, location.href).href);

  if (window.Hls && window.Hls.isSupported()) {
    var Hls = window.Hls;
    var hls = new Hls({
      autoStartLoad: loadAtOnce,
      startPosition: startTime,
      xhrSetup: function (xhr, url) {
        xhr.open('GET', withParent(url), true);
      },
    });
    var started = loadAtOnce;
    var recovered = false;
    if (!loadAtOnce) {
      video.addEventListener('play', function () {
        if (!started) {
          started = true;
          hls.startLoad(startTime);
        }
      });
    }
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      if (root.dataset.state === 'loading') setState('ready');
      if (autoplay) tryPlay();
    });
    hls.on(Hls.Events.ERROR, function (_event, data) {
      var code = data.response && data.response.code;
      if (code === 401 || code === 403 || (code === 404 && data.fatal)) {
        refused(code, responseText(data.networkDetails));
        hls.destroy();
        return;
      }
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
        recovered = true;
        hls.recoverMediaError();
        return;
      }
      setState('error');
      hls.destroy();
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        show('The video could not be loaded', 'Check your connection and reload the page.');
      } else {
        show('This video cannot be played', 'Your browser could not decode it (' + data.details + ').');
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    // Native HLS (older Safari): the browser fetches segments itself, so only the
    // manifest carries `parentOrigin`.
    video.addEventListener('loadedmetadata', function () {
      if (root.dataset.state === 'loading') setState('ready');
      if (startTime > 0) video.currentTime = startTime;
      if (autoplay) tryPlay();
    });
    video.addEventListener('error', function () {
      setState('error');
      show('This video cannot be played', 'The video could not be loaded.');
    });
    video.src = src;
  } else {
    setState('error');
    show('This browser cannot play this video', 'It needs Media Source Extensions or native HLS.');
  }
})();
