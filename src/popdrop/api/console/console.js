// popdrop's web console: a client of the public REST API only (/v1), no build step, no CDN.
// Credentials live in this page's memory only (a reload signs out). Message content is never
// inserted as HTML into this page: text goes in with textContent, and the server-sanitised HTML
// body goes into a sandboxed iframe (no scripts, no same-origin) whose images are data: URLs.
"use strict";

const state = { auth: null, role: null, mailbox: null, uid: null, cursor: null, filters: {} };
const $ = (id) => document.getElementById(id);

function show(...ids) {
  for (const id of ["sign-in", "mailboxes", "mailbox", "message"]) {
    $(id).hidden = !ids.includes(id);
  }
}

function status(text) {
  $("status").textContent = text;
}

function enc(value) {
  return encodeURIComponent(value);
}

async function api(path, options = {}) {
  const headers = { Authorization: state.auth, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail;
    } catch (error) {
      // not a problem document
    }
    const failure = new Error(`${response.status}: ${detail}`);
    failure.status = response.status;
    throw failure;
  }
  return response;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

function link(label, onClick) {
  const anchor = document.createElement("a");
  anchor.href = "#";
  anchor.textContent = label;
  anchor.addEventListener("click", (event) => {
    event.preventDefault();
    onClick();
  });
  return anchor;
}

async function signIn(event) {
  event.preventDefault();
  const mode = new FormData($("sign-in-form")).get("mode");
  if (mode === "token") {
    state.auth = `Bearer ${$("token").value}`;
  } else {
    const pair = new TextEncoder().encode(`${$("address").value}:${$("password").value}`);
    state.auth = `Basic ${btoa(String.fromCharCode(...pair))}`;
  }
  try {
    const me = await (await api("/v1/me")).json();
    state.role = me.role;
    $("who").textContent = me.role === "admin" ? "Signed in as the admin" : `Signed in as ${me.address}`;
    $("sign-out").hidden = false;
    status("");
    if (me.role === "admin") {
      await listMailboxes(null);
    } else {
      await openMailbox(me.address);
    }
  } catch (error) {
    state.auth = null;
    status(error.status === 401 ? "Wrong credentials." : `Sign-in failed (${error.message}).`);
  }
}

function signOut() {
  Object.assign(state, { auth: null, role: null, mailbox: null, uid: null });
  $("who").textContent = "";
  $("sign-out").hidden = true;
  $("token").value = "";
  $("password").value = "";
  show("sign-in");
}

async function listMailboxes(after) {
  const query = new URLSearchParams({ limit: "50" });
  if (after) query.set("starting_after", after);
  const page = await (await api(`/v1/mailboxes?${query}`)).json();
  const list = $("mailbox-list");
  if (!after) list.replaceChildren();
  for (const mailbox of page.data) {
    const item = document.createElement("li");
    item.appendChild(link(mailbox.address, () => openMailbox(mailbox.address).catch(fail)));
    item.append(` (${mailbox.message_count} messages)`);
    list.appendChild(item);
  }
  const more = $("mailboxes-more");
  more.hidden = !page.has_more;
  more.onclick = () => listMailboxes(page.data[page.data.length - 1].address).catch(fail);
  show("mailboxes");
}

async function openMailbox(address) {
  state.mailbox = address;
  $("mailbox-title").textContent = address;
  show(...(state.role === "admin" ? ["mailboxes", "mailbox"] : ["mailbox"]));
  await Promise.all([listMessages(null), listQuarantine()]);
}

function base() {
  return `/v1/mailboxes/${enc(state.mailbox)}`;
}

async function listMessages(after) {
  const query = new URLSearchParams({ limit: "50" });
  for (const [name, value] of Object.entries(state.filters)) {
    if (value) query.set(name, name === "since" || name === "until" ? dayBound(name, value) : value);
  }
  if (after) query.set("starting_after", after);
  const page = await (await api(`${base()}/messages?${query}`)).json();
  const body = $("messages").tBodies[0];
  if (!after) body.replaceChildren();
  for (const message of page.data) {
    const row = body.insertRow();
    cell(row, new Date(message.arrived_at).toLocaleString());
    cell(row, message.summary.sender);
    const subject = cell(row, "");
    subject.appendChild(
      link(message.summary.subject || "(no subject)", () => openMessage(message.uid).catch(fail)),
    );
    cell(row, `${message.size} octets`);
  }
  const more = $("messages-more");
  more.hidden = !page.has_more;
  more.onclick = () => listMessages(page.data[page.data.length - 1].uid).catch(fail);
}

function dayBound(name, day) {
  return name === "since" ? `${day}T00:00:00Z` : `${day}T23:59:59.999Z`;
}

async function listQuarantine() {
  const page = await (await api(`${base()}/quarantine?limit=500`)).json();
  const body = $("quarantine").tBodies[0];
  body.replaceChildren();
  for (const held of page.data) {
    const row = body.insertRow();
    cell(row, new Date(held.message.arrived_at).toLocaleString());
    cell(row, held.message.summary.subject || "(no subject)");
    cell(row, held.reason);
    const actions = cell(row, "");
    const path = `${base()}/quarantine/${enc(held.message.uid)}`;
    actions.appendChild(
      button("Release", () =>
        api(`${path}/release`, { method: "POST" }).then(() => openMailbox(state.mailbox)).catch(fail),
      ),
    );
    actions.append(" ");
    actions.appendChild(
      button("Discard", () =>
        api(path, { method: "DELETE" }).then(() => openMailbox(state.mailbox)).catch(fail),
      ),
    );
  }
}

async function openMessage(uid) {
  state.uid = uid;
  const path = `${base()}/messages/${enc(uid)}`;
  const message = await (await api(path)).json();
  $("message-title").textContent = message.summary.subject || "(no subject)";
  const headers = $("headers").tBodies[0];
  headers.replaceChildren();
  for (const header of message.headers) {
    const row = headers.insertRow();
    cell(row, header.name);
    cell(row, header.value);
  }
  const parts = $("parts");
  parts.replaceChildren();
  for (const part of message.parts) {
    const item = document.createElement("li");
    const name = part.filename || part.content_type;
    item.append(`${part.id}: `);
    if (part.container) {
      item.append(`${name}`);
    } else {
      item.appendChild(button(`Download ${name}`, () => download(`${path}/parts/${part.id}`, part.filename || `part-${part.id}`)));
    }
    item.append(` (${part.size} octets)`);
    parts.appendChild(item);
  }
  await showBody(path, message.parts);
  show("message");
  $("back").focus();
}

async function showBody(path, parts) {
  const frame = $("body");
  const text = $("text-body");
  const html = parts.some((part) => part.content_type === "text/html");
  frame.hidden = !html;
  text.hidden = html;
  if (!html) {
    const plain = parts.find((part) => part.content_type === "text/plain");
    text.textContent = plain ? await (await api(`${path}/parts/${plain.id}`)).text() : "";
    return;
  }
  const sanitised = await (await api(`${path}/html`)).text();
  const doc = new DOMParser().parseFromString(sanitised, "text/html");
  // The iframe cannot send credentials: the message's own images (cid: parts, already pointed at
  // their part route by the server) are fetched here and inlined as data: URLs.
  for (const image of doc.querySelectorAll("img[src]")) {
    const source = image.getAttribute("src");
    if (source.startsWith("/v1/")) {
      image.setAttribute("src", await dataUrl(source));
    } else {
      image.removeAttribute("src");
    }
  }
  const policy = doc.createElement("meta");
  policy.httpEquiv = "Content-Security-Policy";
  policy.content = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";
  doc.head.prepend(policy);
  frame.srcdoc = `<!DOCTYPE html>${doc.documentElement.outerHTML}`;
}

async function dataUrl(path) {
  const blob = await (await api(path)).blob();
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

async function download(path, filename) {
  try {
    const blob = await (await api(path)).blob();
    const anchor = document.createElement("a");
    anchor.href = URL.createObjectURL(blob);
    anchor.download = filename;
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(anchor.href), 1000);
  } catch (error) {
    fail(error);
  }
}

async function deleteMessage() {
  if (!window.confirm("Delete this message? POP3 clients will not see it again.")) return;
  try {
    await api(`${base()}/messages/${enc(state.uid)}`, { method: "DELETE" });
    status("Deleted.");
    await openMailbox(state.mailbox);
  } catch (error) {
    fail(error);
  }
}

function fail(error) {
  status(error.status === 409 ? "A POP3 session holds the mailbox; try again later." : error.message);
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      const token = new FormData($("sign-in-form")).get("mode") === "token";
      $("token-fields").hidden = !token;
      $("mailbox-fields").hidden = token;
    });
  }
  $("sign-out").addEventListener("click", signOut);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries(new FormData($("filters")));
    listMessages(null).catch(fail);
  });
  $("back").addEventListener("click", () => openMailbox(state.mailbox).catch(fail));
  $("download-raw").addEventListener("click", () =>
    download(`${base()}/messages/${enc(state.uid)}/raw`, `${state.uid}.eml`),
  );
  $("delete").addEventListener("click", deleteMessage);
  show("sign-in");
});
