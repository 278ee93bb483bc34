// The blogpod studio: write a post and watch it being written, list jobs, list skills.
//
// Plain ES module, no dependencies. Everything from the API is treated as untrusted text:
// DOM nodes are built with textContent, never with innerHTML.

import { countWords, renderMarkdown } from "./markdown.js";

const API = "/api/v1";
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// API helpers

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Fetch JSON; a non-2xx answer throws an Error carrying the problem+json detail. */
async function api(path, options = {}) {
  const response = await fetch(`${API}${path}`, {
    ...options,
    headers: { Accept: "application/json", ...authHeaders(), ...(options.headers || {}) },
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && (body.detail || body.title);
    throw new Error(detail ? `${detail} (HTTP ${response.status})` : `HTTP ${response.status}`);
  }
  return body;
}

const listOf = (body, key) => (Array.isArray(body) ? body : (body && body[key]) || []);

function showError(id, error) {
  const node = $(id);
  node.textContent = error ? String(error.message || error) : "";
  node.hidden = !error;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

/** Only links to this site (or plain http(s)) are ever put in an href. */
function safeHref(url) {
  try {
    const parsed = new URL(url, window.location.origin);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.href;
  } catch {
    /* fall through */
  }
  return null;
}

const shortVersion = (version) => (version ? String(version).slice(0, 12) : "");

function formatDuration(job) {
  if (!job.started_at) return "";
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  const seconds = Math.max(0, (end - Date.parse(job.started_at)) / 1000);
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function formatTokens(usage) {
  if (!usage) return "";
  return `${usage.input_tokens ?? 0} in / ${usage.output_tokens ?? 0} out`;
}

// ---------------------------------------------------------------------------------------
// Views

const views = ["write", "jobs", "skills"];

function showView() {
  const hash = window.location.hash.replace(/^#/, "");
  const [name, arg] = hash.split("/");
  const view = views.includes(name) ? name : "write";
  for (const section of document.querySelectorAll("main > section[data-view]")) {
    section.hidden = section.dataset.view !== view;
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "jobs") loadJobs();
  if (view === "skills") loadSkills();
  if (view === "write" && arg) watchJob(decodeURIComponent(arg));
}

// ---------------------------------------------------------------------------------------
// Write: the form

const skillDescriptions = new Map();

async function loadSkillChoices() {
  try {
    const skills = listOf(await api("/skills"), "skills");
    const select = $("skill");
    for (const skill of skills) {
      skillDescriptions.set(skill.name, skill.description || "");
      const option = el("option", skill.name);
      option.value = skill.name;
      select.append(option);
    }
    describeSkill();
  } catch (error) {
    $("skill-description").textContent = `Skills could not be loaded: ${error.message}`;
  }
}

function describeSkill() {
  const name = $("skill").value;
  $("skill-description").textContent = name
    ? skillDescriptions.get(name) || ""
    : "The agent follows the default skill.";
}

function formPayload(form) {
  const data = new FormData(form);
  const payload = { topic: String(data.get("topic") || "").trim() };
  for (const key of ["skill", "audience", "tone", "length"]) {
    const value = String(data.get(key) || "").trim();
    if (value) payload[key] = value;
  }
  const keywords = String(data.get("keywords") || "")
    .split(",")
    .map((word) => word.trim())
    .filter(Boolean);
  if (keywords.length) payload.keywords = keywords;
  return payload;
}

async function submitPost(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const payload = formPayload(form);
  if (!payload.topic) {
    showError("form-error", new Error("Please enter a topic."));
    $("topic").focus();
    return;
  }
  showError("form-error", null);
  $("submit").disabled = true;
  try {
    const job = await api("/posts", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    followJob(job);
  } catch (error) {
    showError("form-error", error);
  } finally {
    $("submit").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Write: following one job over Server-Sent Events

let current = null; // { job, source, text, frame }

function setStatus(status) {
  const badge = $("job-status");
  badge.textContent = status;
  badge.dataset.status = status;
  $("cancel").hidden = FINAL.has(status);
  $("preview").setAttribute("aria-busy", String(!FINAL.has(status)));
  $("job-title").textContent = FINAL.has(status) ? "Post" : "Writing";
}

function renderPreview() {
  if (!current) return;
  current.frame = 0;
  const preview = $("preview");
  preview.replaceChildren(renderMarkdown(current.text));
  const words = countWords(current.text);
  $("job-words").textContent = `${words} ${words === 1 ? "word" : "words"}`;
}

function schedulePreview() {
  if (current && !current.frame) current.frame = window.requestAnimationFrame(renderPreview);
}

function showJobMeta(job) {
  $("job-skill").textContent = job.skill
    ? `skill ${job.skill}${job.skill_version ? ` @ ${shortVersion(job.skill_version)}` : ""}`
    : "";
  $("job-model").textContent = job.model ? `model ${job.model}` : "";
  $("job-draft").hidden = !job.draft;
}

function showPublished(post) {
  const href = post && safeHref(post.url);
  if (!href) return;
  const link = $("job-link");
  link.href = href;
  link.textContent = post.title || post.url;
  $("job-published").hidden = false;
}

function stopFollowing() {
  if (current && current.source) current.source.close();
  if (current && current.frame) window.cancelAnimationFrame(current.frame);
}

function followJob(job) {
  stopFollowing();
  current = { job, source: null, text: "", frame: 0 };
  $("job").hidden = false;
  $("job-published").hidden = true;
  showError("job-error", null);
  showJobMeta(job);
  setStatus(job.status);
  renderPreview();
  if (job.post) showPublished(job.post);
  if (window.location.hash !== `#write/${encodeURIComponent(job.id)}`) {
    history.replaceState(null, "", `#write/${encodeURIComponent(job.id)}`);
  }

  const source = new EventSource(job.events_url || `${API}/jobs/${encodeURIComponent(job.id)}/events`);
  current.source = source;
  const mine = current;
  const parse = (event) => {
    try {
      return JSON.parse(event.data);
    } catch {
      return {};
    }
  };
  source.addEventListener("status", (event) => {
    const data = parse(event);
    if (data.status === "running") {
      // Each attempt (or a re-sent stream) writes the draft anew: start from a blank page.
      mine.text = "";
      if (mine === current) schedulePreview();
    }
    setStatus(data.status);
    if (FINAL.has(data.status)) {
      source.close();
      refreshJobMeta(mine.job.id);
    }
  });
  source.addEventListener("delta", (event) => {
    mine.text += parse(event).text || "";
    if (mine === current) schedulePreview();
  });
  source.addEventListener("usage", (event) => {
    const usage = parse(event);
    $("job-model").title = formatTokens(usage);
  });
  source.addEventListener("published", (event) => {
    showPublished(parse(event));
  });
  source.addEventListener("error", (event) => {
    if (event.data !== undefined) {
      showError("job-error", new Error(parse(event).message || "The job failed."));
    } else if (source.readyState === EventSource.CLOSED) {
      showError("job-error", new Error("Lost the connection to the event stream."));
    }
    // Otherwise the browser reconnects by itself, sending Last-Event-ID.
  });
  // Keyboard and screen-reader users land on the job; its status is a live region.
  $("job-title").focus();
}

async function refreshJobMeta(id) {
  try {
    const job = await api(`/jobs/${encodeURIComponent(id)}`);
    if (!current || current.job.id !== id) return;
    current.job = job;
    showJobMeta(job);
    if (job.post) showPublished(job.post);
    if (job.error) showError("job-error", new Error(job.error));
  } catch {
    /* the stream already said what matters */
  }
}

async function watchJob(id) {
  if (current && current.job.id === id) return;
  try {
    followJob(await api(`/jobs/${encodeURIComponent(id)}`));
  } catch (error) {
    showError("form-error", error);
  }
}

async function cancelJob() {
  if (!current) return;
  $("cancel").disabled = true;
  try {
    await api(`/jobs/${encodeURIComponent(current.job.id)}`, { method: "DELETE" });
  } catch (error) {
    showError("job-error", error);
  } finally {
    $("cancel").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Jobs

async function loadJobs() {
  showError("jobs-error", null);
  try {
    const jobs = listOf(await api("/jobs"), "jobs");
    const rows = jobs.map((job) => {
      const row = document.createElement("tr");
      const topic = el("td");
      const link = el("a", job.topic);
      link.href = `#write/${encodeURIComponent(job.id)}`;
      topic.append(link);
      if (job.post) {
        const href = safeHref(job.post.url);
        if (href) {
          const view = el("a", "read", "read");
          view.href = href;
          topic.append(" ", view);
        }
      }
      const status = el("td");
      status.append(el("span", job.status, "badge"));
      status.firstChild.dataset.status = job.status;
      if (job.draft) status.append(" ", el("span", "draft", "badge draft"));
      const skill = el("td", `${job.skill || ""}${job.skill_version ? ` @ ${shortVersion(job.skill_version)}` : ""}`);
      row.append(topic, status, skill, el("td", job.model), el("td", formatDuration(job)), el("td", formatTokens(job.usage)));
      for (const [index, label] of ["Topic", "Status", "Skill", "Model", "Duration", "Tokens"].entries()) {
        row.children[index].dataset.label = label;
      }
      return row;
    });
    $("jobs-table").tBodies[0].replaceChildren(...rows);
    $("jobs-empty").hidden = rows.length > 0;
  } catch (error) {
    showError("jobs-error", error);
  }
}

// ---------------------------------------------------------------------------------------
// Skills

function findingItem(finding) {
  const where = [finding.skill, finding.file, finding.line ? `line ${finding.line}` : null]
    .filter(Boolean)
    .join(" · ");
  const item = el("li", null, `finding sev-${finding.severity || "info"}`);
  item.append(el("strong", finding.severity || "finding"), " ", el("code", finding.rule || ""));
  item.append(" ", el("span", finding.message || ""));
  if (where) item.append(el("span", where, "where"));
  return item;
}

async function loadSkills() {
  showError("skills-error", null);
  try {
    const skills = listOf(await api("/skills"), "skills");
    const items = skills.map((skill) => {
      const item = el("li", null, "card skill");
      const head = el("div", null, "skill-head");
      head.append(el("h2", skill.name));
      head.append(el("span", `version ${shortVersion(skill.version)}`, "badge"));
      if (skill.status && skill.status !== "ok") head.append(el("span", skill.status, "badge draft"));
      item.append(head, el("p", skill.description));
      const findings = skill.findings || [];
      if (findings.length) {
        const list = el("ul", null, "findings");
        list.append(...findings.map(findingItem));
        item.append(list);
      } else {
        item.append(el("p", "No findings.", "hint"));
      }
      return item;
    });
    $("skills-list").replaceChildren(...items);
  } catch (error) {
    showError("skills-error", error);
  }
  try {
    const catalog = await api("/catalog");
    const rejected = (catalog && catalog.rejected) || [];
    $("rejected-list").replaceChildren(...rejected.map(findingItem));
    $("rejected").hidden = rejected.length === 0;
  } catch {
    $("rejected").hidden = true;
  }
}

// ---------------------------------------------------------------------------------------

function start() {
  $("post-form").addEventListener("submit", submitPost);
  $("skill").addEventListener("change", describeSkill);
  $("cancel").addEventListener("click", cancelJob);
  $("jobs-refresh").addEventListener("click", loadJobs);
  $("skills-refresh").addEventListener("click", loadSkills);
  window.addEventListener("hashchange", showView);
  const saved = window.sessionStorage.getItem("blogpod-token");
  if (saved) $("token").value = saved;
  $("token").addEventListener("change", () => {
    window.sessionStorage.setItem("blogpod-token", $("token").value.trim());
  });
  loadSkillChoices();
  showView();
}

start();
