// Camera barcode scanning for pages that include templates/includes/camera_scan.html.
// Frames go to /api/scan as downscaled JPEGs a few times a second until a code
// decodes; the code is then typed into the page's scan input and its form is
// submitted exactly as a scanner or keyboard would (Enter = requestSubmit, so
// htmx and plain forms both see a normal submit). Without a camera the photo
// input is the fallback; a photo is shrunk in the browser before it is sent.
(function () {
  "use strict";
  if (window.cameraScanInstalled) return; // the include may appear more than once on a page
  window.cameraScanInstalled = true;

  var FRAME_INTERVAL_MS = 300; // about three frames a second: enough to catch a steady hand, light on the server
  var FRAME_MAX_WIDTH = 960; // codes fill enough of the frame at this width; smaller uploads, faster decodes
  var JPEG_QUALITY = 0.8;
  // The server reads a photo at 1600 px on its long side (SCAN_WORK_SIDE): a 12-50 MP phone photo shrunk to that
  // uploads in a fraction of the time and stays within the server's pixel limits whatever its format.
  var PHOTO_MAX_SIDE = 1600;
  var PHOTO_JPEG_QUALITY = 0.9;

  function widgetOf(element) {
    return element.closest("[data-camera-scan]");
  }

  function part(widget, name) {
    return widget.querySelector("[data-camera-scan-" + name + "]");
  }

  function say(widget, text) {
    part(widget, "status").textContent = text || "";
  }

  function post(widget, blob) {
    var body = new FormData();
    body.append("image", blob, "frame.jpg");
    return fetch(widget.dataset.scanUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": widget.dataset.csrf, Accept: "application/json" },
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return { error: response.statusText };
        })
        .then(function (payload) {
          return { status: response.status, payload: payload };
        });
    });
  }

  function enter(widget, code) {
    var input = document.getElementById(widget.dataset.target);
    if (!input) return;
    input.value = code;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    say(widget, widget.dataset.msgFound + " " + code);
    if (input.form) input.form.requestSubmit();
    input.focus();
  }

  // The code meant among several in one image: one that names a product (packaging often carries a WeChat or
  // shop QR code beside the barcode), else the server's first (it puts EAN/UPC and case labels before QR codes).
  function chosen(codes) {
    for (var i = 0; i < codes.length; i++) {
      if (codes[i].product) return codes[i];
    }
    return codes[0];
  }

  // The result of one request: true when scanning should stop.
  function handle(widget, result) {
    if (result.status === 200 && result.payload.codes && result.payload.codes.length) {
      enter(widget, chosen(result.payload.codes).code);
      return true;
    }
    if (result.status === 422) return false;
    say(widget, result.payload.error || String(result.status));
    return true;
  }

  function stop(widget) {
    var state = widget.cameraScan;
    if (!state) return;
    clearInterval(state.timer);
    state.stream.getTracks().forEach(function (track) {
      track.stop();
    });
    part(widget, "video").srcObject = null;
    part(widget, "view").hidden = true;
    widget.cameraScan = null;
  }

  function sendFrame(widget) {
    var state = widget.cameraScan;
    var video = part(widget, "video");
    if (!state || state.busy || !video.videoWidth) return;
    var scale = Math.min(1, FRAME_MAX_WIDTH / video.videoWidth);
    state.canvas.width = Math.round(video.videoWidth * scale);
    state.canvas.height = Math.round(video.videoHeight * scale);
    state.canvas.getContext("2d").drawImage(video, 0, 0, state.canvas.width, state.canvas.height);
    state.busy = true; // one request in flight: a slow server is not flooded with stale frames
    state.canvas.toBlob(
      function (blob) {
        if (!blob) {
          state.busy = false;
          return;
        }
        post(widget, blob)
          .then(function (result) {
            if (widget.cameraScan === state && handle(widget, result)) stop(widget);
          })
          .catch(function (error) {
            say(widget, error.message);
            stop(widget);
          })
          .finally(function () {
            state.busy = false;
          });
      },
      "image/jpeg",
      JPEG_QUALITY
    );
  }

  function start(widget) {
    if (widget.cameraScan || widget.cameraScanStarting) return; // a second tap must not open a second stream
    widget.cameraScanStarting = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      widget.cameraScanStarting = false;
      say(widget, widget.dataset.msgNoCamera);
      part(widget, "file").click();
      return;
    }
    say(widget, widget.dataset.msgStarting);
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false })
      .then(function (stream) {
        var video = part(widget, "video");
        video.srcObject = stream;
        part(widget, "view").hidden = false;
        return video.play().then(function () {
          widget.cameraScan = { stream: stream, canvas: document.createElement("canvas"), busy: false };
          widget.cameraScan.timer = setInterval(function () {
            sendFrame(widget);
          }, FRAME_INTERVAL_MS);
          say(widget, widget.dataset.msgLooking);
        });
      })
      .catch(function () {
        // Refused or missing camera: the photo input still works.
        say(widget, widget.dataset.msgNoCamera);
        part(widget, "file").click();
      })
      .finally(function () {
        widget.cameraScanStarting = false;
      });
  }

  // The photo as a JPEG at most PHOTO_MAX_SIDE on its long side, on white (a transparent PNG would turn black);
  // the file itself when it is small enough already or the browser cannot draw it (the server then says why).
  function shrunk(file) {
    if (!window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(
      function (bitmap) {
        var scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        if (scale === 1 && file.type === "image/jpeg") {
          bitmap.close();
          return file;
        }
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(bitmap.width * scale));
        canvas.height = Math.max(1, Math.round(bitmap.height * scale));
        var context = canvas.getContext("2d");
        context.fillStyle = "#fff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.imageSmoothingQuality = "high"; // bars must not alias into each other when a photo shrinks 5x
        context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        bitmap.close();
        return new Promise(function (resolve) {
          canvas.toBlob(
            function (blob) {
              resolve(blob || file);
            },
            "image/jpeg",
            PHOTO_JPEG_QUALITY
          );
        });
      },
      function () {
        return file;
      }
    );
  }

  function upload(widget, file) {
    shrunk(file)
      .then(function (image) {
        return post(widget, image);
      })
      .then(function (result) {
        if (result.status === 422) say(widget, widget.dataset.msgNothing);
        else handle(widget, result);
      })
      .catch(function (error) {
        say(widget, error.message);
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-camera-scan-start], [data-camera-scan-stop]");
    if (!button) return;
    var widget = widgetOf(button);
    if (button.hasAttribute("data-camera-scan-start")) start(widget);
    else stop(widget);
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-camera-scan-file]") || !input.files.length) return;
    upload(widgetOf(input), input.files[0]);
    input.value = ""; // choosing the same photo again fires change again
  });

  // Pages swapped out by htmx must not leave the camera running.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var widget = event.target.matches && event.target.matches("[data-camera-scan]") ? event.target : null;
    if (widget) stop(widget);
  });
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[data-camera-scan]").forEach(stop);
  });
})();
