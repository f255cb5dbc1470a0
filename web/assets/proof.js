// wxarchive: the message page's inclusion proof verified in the browser,
// so a viewer need not take the server's word for it. From the proof the
// page carries (leaf, audit path, signed checkpoint, public key) it checks,
// with WebCrypto alone:
//   1. the leaf is this message's (its serial and record hash);
//   2. the leaf hash is SHA-256(0x00 ‖ leaf) (RFC 9162 §2.1.1);
//   3. the audit path leads from it to the checkpoint's root (RFC 9162
//      §2.1.3.2) for the checkpoint's tree size;
//   4. the checkpoint (a C2SP signed note) carries a valid Ed25519
//      signature by the key — the one the viewer pinned in this browser
//      if any (compare it once with the key your firm keeps), else the
//      key this server gave, which the page says.
"use strict";
(function () {
  var enc = new TextEncoder();

  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function unhex(s) {
    if (!/^([0-9a-f]{2})*$/.test(s)) { throw new Error("not hex: " + s.slice(0, 16)); }
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(s.substr(i * 2, 2), 16); }
    return out;
  }
  function unb64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function concat() {
    var n = 0, i;
    for (i = 0; i < arguments.length; i++) { n += arguments[i].length; }
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], at); at += arguments[i].length; }
    return out;
  }
  function sha256(b) { return crypto.subtle.digest("SHA-256", b).then(function (d) { return new Uint8Array(d); }); }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }

  // RFC 9162 §2.1.3.2: the root an inclusion path gives.
  async function rootFromPath(index, size, leafHash, path) {
    if (index >= size) { throw new Error("leaf index " + index + " is not below tree size " + size); }
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < path.length; i++) {
      var p = path[i];
      if (sn === 0) { throw new Error("the audit path is too long"); }
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) { throw new Error("the audit path is too short"); }
    return r;
  }

  // A note verifier key "name+hash+base64(0x01 ‖ Ed25519 public key)".
  async function parseKey(vkey) {
    var parts = vkey.trim().split("+");
    if (parts.length < 3) { throw new Error("not a note verifier key"); }
    var name = parts[0], hash = parts[1], raw = unb64(parts.slice(2).join("+"));
    if (raw.length !== 33 || raw[0] !== 1 || !/^[0-9a-f]{8}$/.test(hash)) { throw new Error("not an Ed25519 note verifier key"); }
    var h = await sha256(concat(enc.encode(name + "\n"), raw));
    if (hex(h.slice(0, 4)) !== hash) { throw new Error("the key's hash does not match the key"); }
    var key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name: name, id: h.slice(0, 4), key: key };
  }

  // A C2SP signed note: its text is verified by one of its signature lines.
  async function openNote(note, k) {
    var sep = note.lastIndexOf("\n\n");
    if (sep < 0) { throw new Error("the checkpoint has no signature"); }
    var text = note.slice(0, sep + 1);
    var sigs = note.slice(sep + 2).split("\n").filter(function (l) { return l !== ""; });
    for (var i = 0; i < sigs.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(sigs[i]);
      if (!m || m[1] !== k.name) { continue; }
      var sig = unb64(m[2]);
      if (sig.length !== 68 || !equal(sig.slice(0, 4), k.id)) { continue; }
      if (await crypto.subtle.verify({ name: "Ed25519" }, k.key, sig.slice(4), enc.encode(text))) { return text; }
      throw new Error("the checkpoint's signature does not verify");
    }
    throw new Error("the checkpoint is not signed by the key " + k.name);
  }

  async function verify(el) {
    var d = el.dataset;
    var leaf = JSON.parse(d.leaf);
    var payload = leaf.payload || {};
    if (String(payload.serial) !== d.serial || payload.record !== d.record) {
      throw new Error("the proof's leaf is not this message's");
    }
    var leafHash = await sha256(concat(new Uint8Array([0]), enc.encode(d.leaf)));
    if (hex(leafHash) !== d.leafHash) { throw new Error("the leaf hash does not match the leaf"); }
    var path = d.hashes === "" ? [] : d.hashes.split(" ").map(unhex);
    var root = await rootFromPath(Number(d.index), Number(d.size), leafHash, path);
    var pinned = "";
    try { pinned = localStorage.getItem("wxarchive.publicKey") || ""; } catch (e) { pinned = ""; }
    var k = await parseKey(pinned || d.key);
    var text = await openNote(d.checkpoint, k);
    var lines = text.split("\n");
    if (lines[1] !== d.size) { throw new Error("the checkpoint is for tree size " + lines[1] + ", not " + d.size); }
    if (!equal(unb64(lines[2]), root)) { throw new Error("the audit path does not lead to the checkpoint's root"); }
    return pinned ? "pinned" : "server";
  }

  function show(el, out, ok, msg) {
    out.dataset.verified = ok ? "true" : "false";
    out.className = ok ? "ok" : "error";
    out.textContent = msg;
  }

  // wxarchiveVerifyProof verifies the proof of el and shows the outcome;
  // it resolves to "true" or "false" (the browser tests call it again
  // after altering the proof).
  window.wxarchiveVerifyProof = function (el) {
    var out = document.getElementById("proof-browser");
    if (!window.crypto || !crypto.subtle) {
      show(el, out, false, el.dataset.unavailable);
      return Promise.resolve("false");
    }
    return verify(el).then(function (how) {
      show(el, out, true, how === "pinned" ? el.dataset.okPinned : el.dataset.okServer);
      return "true";
    }, function (err) {
      show(el, out, false, el.dataset.failed + " " + err.message);
      return "false";
    });
  };

  var el = document.getElementById("proof-data");
  if (el) { window.wxarchiveVerifyProof(el); }
  var pin = document.getElementById("pin-key");
  if (pin) {
    pin.addEventListener("click", function () {
      var v = document.getElementById("pinned-key").value.trim();
      try {
        if (v) { localStorage.setItem("wxarchive.publicKey", v); } else { localStorage.removeItem("wxarchive.publicKey"); }
      } catch (e) { /* storage refused: verification keeps using the server's key */ }
      if (el) { window.wxarchiveVerifyProof(el); }
    });
  }
})();
