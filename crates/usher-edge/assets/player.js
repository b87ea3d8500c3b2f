// Usher's player: hls.js on the page's <video>, set up from the data- attributes the
// server wrote (the page runs no inline script, so its CSP can forbid it), with menus
// for captions, audio tracks and quality beside the browser's own controls.
(function () {
  'use strict';

  // How long the menus stay in view after the viewer last moved or touched the player.
  var IDLE_MS = 3000;
  // The bandwidth hls.js assumes until it has measured a segment (hls.js's own default).
  // Set explicitly because otherwise hls.js starts from the first rendition the master
  // lists — ours lists the best first — and a slow link would wait for a whole
  // top-quality segment before the first frame; from here it climbs after one segment.
  var START_BANDWIDTH_ESTIMATE = 500000;
  // How often a page waiting for a broadcast to start looks for it.
  var LIVE_RETRY_MS = 5000;
  var LIVE_SYNC_SEGMENTS = 1.5;

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
  var live = cfg.live === 'true';
  var badge = document.getElementById('usher-live');
  var wasLive = false;

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
    if (live && badge) {
      wasLive = true;
      badge.hidden = false;
    }
  });
  if (!video.controls) {
    video.addEventListener('click', function () {
      if (video.paused) tryPlay();
      else video.pause();
    });
  }

  var src = withParent(new URL(cfg.src, location.href).href);

  // The settings menus: captions, audio track and quality, as labelled <select>s over
  // the top of the video (the browser's own controls hold the bottom). Each appears
  // only when it offers a choice, and only with hls.js (native HLS has its own menus).

  function menus(hls, Events) {
    var bar = document.createElement('div');
    bar.className = 'usher-menus';
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'Playback settings');
    video.insertAdjacentElement('afterend', bar);

    function menu(id, name, onChange) {
      var wrap = document.createElement('div');
      wrap.className = 'usher-menu';
      wrap.hidden = true;
      var label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = name;
      var select = document.createElement('select');
      select.id = id;
      select.addEventListener('change', function () {
        onChange(Number(select.value));
      });
      wrap.appendChild(label);
      wrap.appendChild(select);
      bar.appendChild(wrap);
      return {
        // `items`: [[value, text]…]; shown when there is more than `min` to choose from.
        fill: function (items, min) {
          select.textContent = '';
          items.forEach(function (item) {
            var o = document.createElement('option');
            o.value = String(item[0]);
            o.textContent = item[1];
            select.appendChild(o);
          });
          wrap.hidden = items.length <= min;
        },
        mark: function (value) {
          select.value = String(value);
        },
        option: function (value) {
          return select.querySelector('option[value="' + value + '"]');
        },
      };
    }

    // -1 turns captions off; hls.js shows the chosen track (`subtitleDisplay`).
    var captions = menu('usher-captions', 'Captions', function (i) {
      hls.subtitleTrack = i;
    });
    var audio = menu('usher-audio', 'Audio', function (i) {
      hls.audioTrack = i;
    });
    // `nextLevel` switches at the next segment without emptying the buffer; -1 is Auto.
    var quality = menu('usher-quality', 'Quality', function (i) {
      hls.nextLevel = i;
    });

    // Players name renditions by their short side ("720p" for 1280x720 and for the
    // same video shot upright); two of one size are told apart by bit rate.
    function levelName(level, all) {
      var side = Math.min(level.width || Infinity, level.height || Infinity);
      if (side === Infinity) return Math.round(level.bitrate / 1000) + ' kb/s';
      var name = side + 'p';
      var twins = all.filter(function (l) {
        return Math.min(l.width || Infinity, l.height || Infinity) === side;
      });
      if (twins.length > 1) name += ' ' + (level.bitrate / 1e6).toFixed(1) + ' Mb/s';
      return name;
    }

    function fillQuality() {
      var items = [[-1, 'Auto']];
      // hls.js sorts levels by bit rate, lowest first; menus list the best first.
      for (var i = hls.levels.length - 1; i >= 0; i--) {
        items.push([i, levelName(hls.levels[i], hls.levels)]);
      }
      quality.fill(items, 2);
      markQuality();
    }

    function markQuality(_event, switched) {
      var auto = quality.option(-1);
      if (!auto) return;
      var playing = hls.levels[switched ? switched.level : hls.currentLevel];
      auto.textContent = hls.autoLevelEnabled && playing
        ? 'Auto (' + levelName(playing, hls.levels) + ')'
        : 'Auto';
      quality.mark(hls.autoLevelEnabled ? -1 : hls.manualLevel);
    }

    function fillAudio() {
      audio.fill(hls.audioTracks.map(function (t, i) {
        return [i, t.name || t.lang || 'Track ' + (i + 1)];
      }), 1);
      audio.mark(hls.audioTrack);
    }

    function fillCaptions() {
      var items = [[-1, 'Off']].concat(hls.subtitleTracks.map(function (t, i) {
        return [i, t.name || t.lang || 'Captions ' + (i + 1)];
      }));
      captions.fill(items, 1);
      captions.mark(hls.subtitleTrack);
    }

    hls.on(Events.MANIFEST_PARSED, fillQuality);
    hls.on(Events.LEVELS_UPDATED, fillQuality);
    hls.on(Events.LEVEL_SWITCHED, markQuality);
    hls.on(Events.AUDIO_TRACKS_UPDATED, fillAudio);
    // Switching: as soon as hls.js picks a track (its first, or the viewer's choice);
    // switched: once it plays. (An event's `id` is not the index in `audioTracks`.)
    function markAudio() {
      audio.mark(hls.audioTrack);
    }
    hls.on(Events.AUDIO_TRACK_SWITCHING, markAudio);
    hls.on(Events.AUDIO_TRACK_SWITCHED, markAudio);
    hls.on(Events.SUBTITLE_TRACKS_UPDATED, fillCaptions);
    hls.on(Events.SUBTITLE_TRACKS_CLEARED, fillCaptions);
    // Also when the viewer picks captions in the browser's own controls.
    hls.on(Events.SUBTITLE_TRACK_SWITCH, function () {
      captions.mark(hls.subtitleTrack);
    });

    // Out of the picture while the video plays untouched, back on any movement or focus.
    var player = video.parentElement;
    var timer = 0;
    function wake() {
      player.classList.remove('usher-idle');
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (!video.paused) player.classList.add('usher-idle');
      }, IDLE_MS);
    }
    ['pointermove', 'pointerdown', 'keydown', 'focusin', 'pause', 'play'].forEach(function (e) {
      player.addEventListener(e, wake, true);
    });
    wake();
  }

  if (window.Hls && window.Hls.isSupported()) {
    var Hls = window.Hls;
    var hls = null;
    var started = loadAtOnce;
    var recovered = false;
    // A live input off air answers 404 until its broadcast starts: say so, and look
    // again every little while.
    var offAir = function () {
      if (hls) hls.destroy();
      hls = null;
      if (badge) badge.hidden = true;
      setState('offair');
      show(wasLive ? 'The broadcast has ended' : 'The broadcast has not started',
        wasLive ? 'Thank you for watching.' : 'It will play here as soon as it is on air.');
      if (!wasLive) setTimeout(startHls, LIVE_RETRY_MS);
    };
    var startHls = function () {
      hls = new Hls({
        autoStartLoad: loadAtOnce || live,
        startPosition: live ? -1 : startTime,
        abrEwmaDefaultEstimate: START_BANDWIDTH_ESTIMATE,
        // A segment and a half behind the live edge instead of hls.js's three: the
        // newest segment arrives as the one before it is half played, so half a
        // segment of margin against a late one; and played up to 10 % faster when
        // it has fallen further behind (after a stall), back to that distance.
        liveSyncDurationCount: LIVE_SYNC_SEGMENTS,
        maxLiveSyncPlaybackRate: live ? 1.1 : 1,
        xhrSetup: function (xhr, url) {
          xhr.open('GET', withParent(url), true);
        },
      });
      hls.on(Hls.Events.MANIFEST_PARSED, function () {
        if (live) {
          box.hidden = true;
          video.classList.remove('usher-hidden');
          setState('ready');
          if (autoplay || started) tryPlay();
          return;
        }
        if (root.dataset.state === 'loading') setState('ready');
        if (autoplay) tryPlay();
      });
      hls.on(Hls.Events.ERROR, function (_event, data) {
        var code = data.response && data.response.code;
        if (live && code === 404) {
          offAir();
          return;
        }
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
      // For the browser tests and for anyone debugging playback from the console.
      window.usherPlayer = { hls: hls, video: video };
      hls.loadSource(src);
      hls.attachMedia(video);
    };
    if (!loadAtOnce && !live) {
      video.addEventListener('play', function () {
        if (!started) {
          started = true;
          hls.startLoad(startTime);
        }
      });
    }
    startHls();
    // A broadcast has one rendition and no tracks: no menus.
    if (video.controls && !live) menus(hls, Hls.Events);
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
