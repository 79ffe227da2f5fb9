// vigil's minimal player: plays one stream's HLS playlist with hls.js.
//   player.html?stream=NAME                   live
//   player.html?stream=NAME&start=T           replay from T, then live
//   player.html?stream=NAME&start=T&end=U     the recorded range T..U (VOD)
// For tests and for the UI built on it, window.vigilPlayer exposes the hls.js
// instance, the video element, a log of playback events, the stall count and
// the wall-clock time (EXT-X-PROGRAM-DATE-TIME) of what is on screen.
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var stream = params.get('stream') || '';
  var start = params.get('start') || '';
  var end = params.get('end') || '';
  var video = document.getElementById('video');
  var statusEl = document.getElementById('status');
  var clockEl = document.getElementById('clock');
  var t0 = performance.now();

  var player = {
    hls: null,
    video: video,
    mode: end ? 'vod' : start ? 'replay' : 'live',
    url: '',
    // Every event: {type, ms (since page load), currentTime, ...details}.
    events: [],
    // 'playing' seen at least once.
    started: false,
    // 'waiting' events after playback started, other than those between a
    // seek and the 'playing' that follows it.
    stalls: 0,
    // Wall-clock time of the fragment on screen, from FRAG_CHANGED.
    fragmentDate: null,
    // Wall-clock time of the current position (hls.playingDate), or null.
    playingDate: function () {
      var d = player.hls && player.hls.playingDate;
      return d ? d.toISOString() : null;
    },
    seekToDate: seekToDate
  };
  window.vigilPlayer = player;

  function record(type, details) {
    var e = { type: type, ms: Math.round(performance.now() - t0), currentTime: video.currentTime };
    for (var k in details) e[k] = details[k];
    player.events.push(e);
  }

  function status(msg) { statusEl.textContent = msg; }

  ['stream', 'start', 'end'].forEach(function (k) {
    document.getElementById(k).value = params.get(k) || '';
  });
  document.addEventListener('securitypolicyviolation', function (e) {
    record('csp-violation', { uri: e.blockedURI, directive: e.violatedDirective });
  });

  if (!stream) {
    status('Choose a stream to play.');
    return;
  }
  var q = new URLSearchParams();
  if (start) q.set('start', start);
  if (end) q.set('end', end);
  player.url = '/hls/' + encodeURIComponent(stream) + '/index.m3u8' + (q.toString() ? '?' + q : '');
  document.title = stream + ' — vigil player';

  var seekPending = false;
  video.addEventListener('seeking', function () { seekPending = true; });
  video.addEventListener('playing', function () {
    player.started = true;
    seekPending = false;
    record('playing');
    status('Playing ' + stream + (player.mode === 'live' ? ' live.' : '.'));
  });
  video.addEventListener('waiting', function () {
    var stall = player.started && !seekPending && !video.seeking;
    if (stall) player.stalls++;
    record('waiting', { stall: stall });
    if (stall) status('Buffering…');
  });
  ['seeking', 'seeked', 'pause', 'ended'].forEach(function (type) {
    video.addEventListener(type, function () { record(type); });
  });
  video.addEventListener('timeupdate', function () {
    var d = player.playingDate();
    if (d && clockEl.dateTime !== d) {
      clockEl.dateTime = d;
      clockEl.textContent = new Date(d).toLocaleString();
    }
  });

  function autoplay() {
    video.muted = true;
    var p = video.play();
    if (p && p.catch) {
      p.catch(function (err) {
        record('autoplay-refused', { message: String(err) });
        status('Press play to start.');
      });
    }
  }

  // seekToDate moves playback to wall-clock time `when` (a Date or RFC 3339
  // string) through the playlist's EXT-X-PROGRAM-DATE-TIME tags. It returns
  // false when no loaded fragment covers that time.
  function seekToDate(when) {
    var t = new Date(when).getTime();
    var hls = player.hls;
    var level = hls && hls.levels[Math.max(hls.currentLevel, 0)];
    var frags = (level && level.details && level.details.fragments) || [];
    for (var i = 0; i < frags.length; i++) {
      var f = frags[i];
      if (f.programDateTime != null && t >= f.programDateTime && t < f.programDateTime + f.duration * 1000) {
        video.currentTime = f.start + (t - f.programDateTime) / 1000;
        return true;
      }
    }
    return false;
  }

  if (window.Hls && Hls.isSupported()) {
    var hls = new Hls({ enableWorker: true, backBufferLength: 60 });
    player.hls = hls;
    var retry = null;
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      record('manifest');
      autoplay();
    });
    hls.on(Hls.Events.FRAG_CHANGED, function (_, data) {
      var pdt = data.frag.programDateTime;
      player.fragmentDate = pdt != null ? new Date(pdt).toISOString() : null;
      record('frag', { sn: data.frag.sn, date: player.fragmentDate });
    });
    hls.on(Hls.Events.ERROR, function (_, data) {
      record('hls-error', { details: data.details, fatal: !!data.fatal, errorType: data.type });
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !retry) {
        // The stream may not be up yet: try again shortly, not in a loop.
        status('Waiting for ' + stream + '…');
        retry = setTimeout(function () {
          retry = null;
          if (data.details.indexOf('manifest') === 0) hls.loadSource(player.url);
          else hls.startLoad();
        }, 2000);
      } else if (data.type !== Hls.ErrorTypes.NETWORK_ERROR) {
        status('Cannot play ' + stream + ': ' + data.details + '.');
        hls.destroy();
      }
    });
    hls.loadSource(player.url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    // Safari plays HLS natively: no hls.js, no program dates.
    video.src = player.url;
    autoplay();
  } else {
    status('This browser cannot play HLS.');
  }
})();
