"use strict";
// Troupe's Node runner: runs one sequence in this process and speaks with
// the hub over the pipes the hub opened for it (see package instance):
//
//   node runner.js <entry file> [instance id]
//   node runner.js --warm <token>
//
// With --warm it is started ahead of its instance: it waits for a LOAD
// message on the control pipe that brings the entry, the working folder,
// the instance id, more environment, and the handshake's appConfig and
// args, and runs that sequence as if it had been started with them.
//
// Plain Node: it ships inside the hub's binary. The sequence's input is a
// scramjet DataStream when the `scramjet` package can be loaded (from the
// sequence's own node_modules, else from TROUPE_SCRAMJET_MODULES, a
// node_modules folder the hub provides), as the original runner gives it;
// else a plain Node stream. this.hub is the sequence's own
// @scramjet/api-client HostClient when it ships one, else a small client
// of the same shape; both speak to TROUPE_HUB_URL.

const fs = require("fs");
const net = require("net");
const util = require("util");
const { EventEmitter, once } = require("events");
const { PassThrough, Readable, Transform } = require("stream");
const { StringDecoder } = require("string_decoder");
const { pathToFileURL } = require("url");
const path = require("path");

const Code = {
    PING: 3000,
    MONITORING: 3001,
    SEQUENCE_STOPPED: 3006,
    ALIVE: 3010,
    SEQUENCE_COMPLETED: 3011,
    PANG: 3012,
    INPUT_CONTENT_TYPE: 3013,
    PONG: 4000,
    STOP: 4001,
    KILL: 4002,
    MONITORING_RATE: 4003,
    MONITORING_REPLY: 4004,
    EVENT: 5001,
    LOAD: 4100,
};

const Exit = {
    COMPLETED: 0,
    BAD_ENVIRONMENT: 20,
    BAD_MAIN: 21,
    FAILED_ON_START: 22,
    FAILED_RUNNING: 23,
    KILLED: 137,
    STOPPED: 138,
};

const FD = { CONTROL: 3, MONITORING: 4, INPUT: 5, OUTPUT: 6, LOG: 7 };

const warm = process.argv[2] === "--warm";
let entry = warm ? "" : process.argv[2];
let instanceId = warm ? "" : process.argv[3] || "";

let control, monitoring, output, logPipe;
try {
    control = new net.Socket({ fd: FD.CONTROL, readable: true, writable: false });
    monitoring = new net.Socket({ fd: FD.MONITORING, readable: false, writable: true });
    output = new net.Socket({ fd: FD.OUTPUT, readable: false, writable: true });
    logPipe = new net.Socket({ fd: FD.LOG, readable: false, writable: true });
} catch (err) {
    process.stderr.write(`troupe runner: the hub's pipes are missing: ${err.message}\n`);
    process.exit(Exit.BAD_ENVIRONMENT);
}
if (!warm && !entry) {
    process.stderr.write("troupe runner: no sequence entry given\n");
    process.exit(Exit.BAD_ENVIRONMENT);
}

// A pipe the hub closed is the hub gone or the instance ending; the exit
// code says what happened, not the write that failed.
for (const pipe of [monitoring, logPipe]) pipe.on("error", () => {});
output.on("error", (err) => fail(err));

function makeLogger(source) {
    const line = (level) => (...args) => {
        if (!logPipe.writable) return;
        logPipe.write(`${new Date().toISOString()} ${level} (${source}) ${util.format(...args)}\n`);
    };
    return {
        trace: line("trace"), debug: line("debug"), info: line("info"),
        warn: line("warn"), error: line("error"), fatal: line("fatal"),
    };
}

const log = makeLogger("Runner");

function send(code, data) {
    if (monitoring.writable) monitoring.write(JSON.stringify([code, data === undefined ? {} : data]) + "\n");
}

// Ending: a stopped or completed sequence flushes what it wrote before it
// exits; a killed one exits now.
let phase = "starting";
let ending = false;
let exitWait = null; // ends the exit timeout early (a stop or kill)

function flushed(socket) {
    return new Promise((resolve) => {
        if (socket.destroyed || socket.writableFinished) return resolve();
        socket.once("error", resolve);
        socket.end(resolve);
    });
}

async function finish(code) {
    if (ending) return;
    ending = true;
    clearInterval(healthTimer);
    await Promise.all([output, monitoring, logPipe].map(flushed));
    process.exit(code);
}

function fail(err) {
    if (ending) return;
    log.error(phase === "starting" ? "Sequence failed on start:" : "Sequence failed:", err);
    finish(phase === "starting" ? Exit.FAILED_ON_START : Exit.FAILED_RUNNING);
}

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

// The real scramjet package, or null: the hub's copy first, as the
// original's input is its runner's own copy (a DataStream the sequence
// makes with the copy it ships is then not the runner's: its output goes
// unserialized, as there), else the sequence's.
function loadScramjet() {
    const dirs = [process.cwd(), path.dirname(entry)];
    if (process.env.TROUPE_SCRAMJET_MODULES) dirs.unshift(process.env.TROUPE_SCRAMJET_MODULES);
    for (const dir of dirs) {
        try {
            return require(require.resolve("scramjet", { paths: [dir] }));
        } catch (err) {
            // not there: the next place
        }
    }
    return null;
}

// Set by setup, once the sequence is known.
let scramjet = null;

// hubClient is this.hub: the sequence's own api-client when it has one.
// With TROUPE_HUB_KEY (the hub asks for API keys) every request carries
// that key, the instances' own.
let hubKey = "";

function hubClient() {
    const url = process.env.TROUPE_HUB_URL || "";
    let HostClient;
    try {
        ({ HostClient } = require(require.resolve("@scramjet/api-client", { paths: [process.cwd()] })));
    } catch (err) {
        return new MiniHostClient(url);
    }
    if (hubKey) {
        try {
            const { ClientUtils } = require(require.resolve("@scramjet/client-utils", { paths: [process.cwd()] }));
            ClientUtils.setDefaultHeaders({ ...ClientUtils.headers, "x-api-key": hubKey });
        } catch (err) {
            log.warn("this.hub: @scramjet/client-utils not found beside the api-client; requests go without the hub's key");
        }
    }
    return new HostClient(url);
}

// The parts of the api-client's HostClient and InstanceClient a sequence
// uses, over fetch.
async function call(base, method, route, { json, body, type, stream, headers = {} } = {}) {
    if (hubKey) headers["x-api-key"] = hubKey;
    if (json !== undefined) {
        body = JSON.stringify(json);
        headers["content-type"] = "application/json";
    } else if (type) {
        headers["content-type"] = type;
    }
    const init = { method, headers, body };
    if (body && typeof body !== "string" && !(body instanceof Uint8Array)) init.duplex = "half";
    const res = await fetch(base + "/" + route, init);
    if (!res.ok) {
        const text = await res.text();
        const err = new Error(`${method} ${route}: ${res.status} ${text}`);
        err.status = res.status;
        throw err;
    }
    if (stream) return Readable.fromWeb(res.body);
    const text = await res.text();
    try {
        return JSON.parse(text);
    } catch (err) {
        return text;
    }
}

class MiniInstanceClient {
    constructor(base, id) { this.base = base; this.id = id; }
    get path() { return `instance/${this.id}`; }
    getInfo() { return call(this.base, "GET", this.path); }
    getHealth() { return call(this.base, "GET", this.path + "/health"); }
    stop(timeout = 7000, canCallKeepalive = false) {
        return call(this.base, "POST", this.path + "/_stop", { json: [4001, { timeout, canCallKeepalive }] });
    }
    kill() { return call(this.base, "POST", this.path + "/_kill", { json: [4002, {}] }); }
    sendEvent(eventName, message) {
        return call(this.base, "POST", this.path + "/_event", { json: [5001, { eventName, message }] });
    }
    getEvent(eventName) { return call(this.base, "GET", `${this.path}/event/${eventName}`); }
    getNextEvent(eventName) { return call(this.base, "GET", `${this.path}/once/${eventName}`); }
    getStream(name) { return call(this.base, "GET", `${this.path}/${name}`, { stream: true }); }
    sendStream(name, body, _opts, { type = "application/octet-stream", end = true } = {}) {
        return call(this.base, "POST", `${this.path}/${name}`, { body, type, headers: { "x-end-stream": String(end) } });
    }
    sendInput(body, opts, extra) { return this.sendStream("input", body, opts, extra); }
    sendStdin(body) { return this.sendStream("stdin", body); }
}

class MiniSequenceClient {
    constructor(base, id) { this.base = base; this.id = id; }
    getInfo() { return call(this.base, "GET", `sequence/${this.id}`); }
    async start(payload = {}) {
        const r = await call(this.base, "POST", `sequence/${this.id}/start`, { json: payload });
        return new MiniInstanceClient(this.base, r.id);
    }
    listInstances() { return call(this.base, "GET", `sequence/${this.id}/instances`); }
}

class MiniHostClient {
    constructor(apiBase) { this.apiBase = apiBase.replace(/\/$/, ""); }
    getVersion() { return call(this.apiBase, "GET", "version"); }
    getStatus() { return call(this.apiBase, "GET", "status"); }
    getConfig() { return call(this.apiBase, "GET", "config"); }
    getLoadCheck() { return call(this.apiBase, "GET", "load-check"); }
    listSequences() { return call(this.apiBase, "GET", "sequences"); }
    listInstances() { return call(this.apiBase, "GET", "instances"); }
    listEntities() { return call(this.apiBase, "GET", "entities"); }
    getTopics() { return call(this.apiBase, "GET", "topics"); }
    getLogStream() { return call(this.apiBase, "GET", "log", { stream: true }); }
    getSequence(id) { return call(this.apiBase, "GET", `sequence/${id}`); }
    deleteSequence(id) { return call(this.apiBase, "DELETE", `sequence/${id}`); }
    getInstanceInfo(id) { return call(this.apiBase, "GET", `instance/${id}`); }
    getInstanceClient(id) { return new MiniInstanceClient(this.apiBase, id); }
    getSequenceClient(id) { return new MiniSequenceClient(this.apiBase, id); }
    sendNamedData(topic, body, _opts, contentType = "application/x-ndjson") {
        return call(this.apiBase, "POST", `topic/${topic}`, { body, type: contentType });
    }
    getNamedData(topic) { return call(this.apiBase, "GET", `topic/${topic}`, { stream: true }); }
}

let hub;

// The sequence's context: `this` of every function of the sequence.
const events = new EventEmitter();
// An "error" event from the hub must not throw when no one listens.
events.on("error", () => {});
const stopHandlers = [];
const killHandlers = [];
const monitoringHandlers = [];
let keepAliveRequested = false;
let stopExpected = false;

function handler(fn) {
    if (typeof fn !== "function") throw new TypeError("handler must be a function");
    return fn;
}

const context = {
    config: {},
    get appConfig() { return this.config; },
    instanceId,
    // Milliseconds to wait after the output ends before exiting, as the
    // original's default.
    exitTimeout: 10000,
    logger: makeLogger("Sequence"),
    get hub() {
        if (!hub) hub = hubClient();
        return hub;
    },
    definition: { mode: "buffer", name: "anonymous function" },
    describe(definition) { Object.assign(this.definition, definition); return this; },
    // The sequence ends itself: what it wrote is flushed, it exits 0.
    end() {
        log.info("Sequence called end()");
        send(Code.SEQUENCE_STOPPED, {});
        finish(Exit.COMPLETED);
        return this;
    },
    // The sequence ends itself with an error: it exits 23.
    destroy(err) {
        log.error("Sequence called destroy()", err === undefined ? "" : err);
        send(Code.SEQUENCE_STOPPED, { sequenceError: err ? String(err && err.stack || err) : undefined });
        finish(Exit.FAILED_RUNNING);
        return this;
    },
    // As the original: saving state is not implemented.
    save() { throw new Error("Method not implemented."); },
    on(eventName, fn) { events.on(eventName, handler(fn)); return this; },
    emit(eventName, message) { send(Code.EVENT, { eventName, message }); return this; },
    keepAlive(milliseconds) {
        keepAliveRequested = true;
        send(Code.ALIVE, { keepAlive: milliseconds || 0 });
        return this;
    },
    addStopHandler(fn) { stopHandlers.push(handler(fn)); return this; },
    addKillHandler(fn) { killHandlers.push(handler(fn)); return this; },
    addMonitoringHandler(fn) { monitoringHandlers.push(handler(fn)); return this; },
};

// Health: every handler may veto; one that throws does.
let healthTimer;

async function reportHealth() {
    let healthy = true;
    for (const fn of monitoringHandlers) {
        try {
            const report = await fn.call(context, { healthy });
            if (report && report.healthy === false) healthy = false;
        } catch (err) {
            healthy = false;
        }
    }
    send(Code.MONITORING, { healthy });
}

function reportEvery(perSecond) {
    clearInterval(healthTimer);
    healthTimer = setInterval(reportHealth, 1000 / perSecond);
}

// Control messages.
let handshake;
const ponged = new Promise((resolve) => { handshake = resolve; });

async function onStop({ timeout = 7000, canCallKeepalive = false } = {}) {
    log.info("Stop requested, timeout", timeout, "canCallKeepalive", canCallKeepalive);
    keepAliveRequested = false;
    // As the original: a kill after the stop handlers are done ends the
    // stop (138); one while they still run is a kill (137).
    if (!stopHandlers.length) stopExpected = true;
    for (const fn of stopHandlers) {
        try {
            await fn.call(context, timeout, canCallKeepalive);
        } catch (err) {
            log.error("Stop handler failed:", err);
        }
    }
    if (canCallKeepalive && keepAliveRequested) {
        log.info("Sequence kept itself alive");
        return;
    }
    stopExpected = true;
    send(Code.SEQUENCE_STOPPED, {});
    finish(Exit.STOPPED);
}

function onKill() {
    log.info("Kill requested");
    for (const fn of killHandlers) {
        try {
            fn.call(context);
        } catch (err) {
            log.error("Kill handler failed:", err);
        }
    }
    // A kill that ends a stop (its timeout passed) is the stop's end, as
    // the original's.
    process.exit(stopExpected ? Exit.STOPPED : Exit.KILLED);
}

// STOP, KILL and EVENT that come before the sequence's function was called
// wait for it: an event sent right after start reaches the handler the
// function registers, a stop right after start runs its stop handler.
let held = [];

function releaseHeld() {
    const queue = held;
    held = null;
    for (const message of queue) onControl(message);
}

function onControl([code, data]) {
    if (held && (code === Code.STOP || code === Code.KILL || code === Code.EVENT)) {
        held.push([code, data]);
        return undefined;
    }
    switch (code) {
    case Code.PONG: return handshake(data || {});
    case Code.STOP: return onStop(data).catch(fail);
    case Code.KILL: return onKill();
    case Code.EVENT: return data && events.emit(data.eventName, data.message);
    case Code.INPUT_CONTENT_TYPE: return startInput(data.contentType);
    case Code.MONITORING_RATE: return data.monitoringRate > 0 && reportEvery(data.monitoringRate);
    case Code.MONITORING_REPLY: return undefined;
    case Code.LOAD: return warm && !entry ? begin(data) : log.warn("LOAD for a runner that has its sequence");
    default: return log.warn("Unknown control message", code);
    }
}

function splitLines(onLine) {
    const decoder = new StringDecoder("utf8");
    let rest = "";
    return (chunk) => {
        const lines = (rest + decoder.write(chunk)).split("\n");
        rest = lines.pop();
        for (const line of lines) if (line.trim()) onLine(line);
    };
}

control.on("data", splitLines((line) => {
    let message;
    try {
        message = JSON.parse(line);
    } catch (err) {
        return log.warn("Unreadable control message", line);
    }
    onControl(message);
}));
// The hub is gone: nobody will read the output any more.
control.on("end", onKill);
control.on("error", onKill);

// Input: nothing is read from the pipe before the content type is known.
let input;

function makeInput() {
    const stream = scramjet ? new scramjet.DataStream() : new PassThrough({ objectMode: true });
    if (scramjet) {
        // The StringStream methods samples call on their input (lines,
        // JSONParse, split ...) go through a StringStream of it.
        for (const name of Object.getOwnPropertyNames(scramjet.StringStream.prototype)) {
            if (name === "constructor" || name in stream) continue;
            stream[name] = function (...args) {
                return this.pipe(new scramjet.StringStream())[name](...args);
            };
        }
    }
    return stream;
}
let inputStarted = false;

function ndjsonParser() {
    const decoder = new StringDecoder("utf8");
    let rest = "";
    const parse = (stream, line) => {
        if (!line.trim()) return;
        try {
            stream.push(JSON.parse(line));
        } catch (err) {
            log.warn("Input line is not JSON, skipped:", line.slice(0, 200));
        }
    };
    return new Transform({
        readableObjectMode: true,
        transform(chunk, _enc, done) {
            const lines = (rest + decoder.write(chunk)).split("\n");
            rest = lines.pop();
            for (const line of lines) parse(this, line);
            done();
        },
        flush(done) {
            parse(this, rest + decoder.end());
            done();
        },
    });
}

function startInput(contentType) {
    if (inputStarted) return;
    inputStarted = true;
    const pipe = new net.Socket({ fd: FD.INPUT, readable: true, writable: false });
    let decoded = pipe;
    if (/x-ndjson$/.test(contentType)) {
        decoded = pipe.pipe(ndjsonParser());
    } else if (contentType === "text/plain") {
        pipe.setEncoding("utf8");
    }
    pipe.on("error", (err) => input.destroy(err));
    decoded.pipe(input);
}

// Output, as the original runner writes it: a serialized output has every
// chunk as a JSON line (strings too); otherwise strings and bytes go as
// they are, and other values (which the original could not write) as JSON
// lines.
function encode(chunk, serialized) {
    if (serialized) return JSON.stringify(chunk) + "\n";
    if (typeof chunk === "string" || chunk instanceof Uint8Array) return chunk;
    return JSON.stringify(chunk) + "\n";
}

// serialized says whether the original serializes an output: one whose
// content type is NDJSON, a scramjet DataStream that is not a StringStream
// or BufferStream, and what it makes a DataStream of (a generator's
// iterator, an array, any other iterable that is not a stream). Other
// streams (a Node PassThrough, a StringStream) are written as they are.
function serialized(result, contentType) {
    if (/x-ndjson$/.test(contentType)) return true;
    if (result instanceof Readable) {
        return Boolean(scramjet) && result instanceof scramjet.DataStream
            && !(result instanceof scramjet.StringStream || result instanceof scramjet.BufferStream);
    }
    return isIterable(result);
}

function isIterable(value) {
    if (value === null || typeof value !== "object") return false;
    return typeof value[Symbol.asyncIterator] === "function"
        || (typeof value[Symbol.iterator] === "function" && !(value instanceof Uint8Array));
}

async function writeOutput(result) {
    if (result === null) return;
    if (["string", "number", "boolean", "undefined"].includes(typeof result)) {
        // A primitive is written as its text, as the original does: a
        // last function that returns nothing writes "undefined" there.
        if (!output.write(`${result}`)) await once(output, "drain");
        return;
    }
    const topic = result.topic || result.provides;
    const contentType = result.contentType || "";
    if (topic) send(Code.PANG, { provides: topic, contentType });
    const json = serialized(result, contentType);
    for await (const chunk of isIterable(result) ? result : [result]) {
        if (chunk === undefined || chunk === null) continue;
        if (!output.write(encode(chunk, json))) await once(output, "drain");
    }
}

// Running the sequence: each function gets what the one before returned.
// A generator function (or async one) returned is run, as the original's
// DataStream.from does: its iterator is the stream.
function called(value) {
    return typeof value === "function" ? value.call(context) : value;
}

function asReadable(value, index) {
    if (!value) {
        throw new Error(`function ${index} of the sequence returned nothing to pass on (Sequence ended premature)`);
    }
    value = called(value);
    if (scramjet && value instanceof scramjet.DataStream) return value;
    if (scramjet) return scramjet.DataStream.from(value);
    if (value instanceof Readable) return value;
    return Readable.from(isIterable(value) ? value : [value], { objectMode: true });
}

async function run(functions, args) {
    let stream = input;
    for (let i = 0; i < functions.length; i++) {
        const pending = functions[i].call(context, stream, ...args);
        if (i === 0) {
            phase = "running";
            log.info("Sequence function called");
            releaseHeld();
        }
        const out = await pending;
        if (i === functions.length - 1) return called(out);
        stream = asReadable(out, i);
    }
    return undefined;
}

async function load() {
    let mod;
    try {
        mod = require(entry);
    } catch (err) {
        if (err.code !== "ERR_REQUIRE_ESM") throw err;
        mod = await import(pathToFileURL(entry).href);
    }
    if (mod && Object.prototype.hasOwnProperty.call(mod, "default")) mod = mod.default;
    const functions = Array.isArray(mod) ? [...mod] : [mod];
    // The original's way to read a topic: a first element {requires, contentType}.
    const declared = typeof functions[0] === "object" && functions[0] !== null ? functions.shift() : {};
    if (!functions.length || functions.some((fn) => typeof fn !== "function")) {
        throw new TypeError("the sequence must export a function or an array of functions");
    }
    return { functions, requires: declared.requires || "", contentType: declared.contentType || "" };
}

async function main() {
    let isFile = false;
    try {
        isFile = fs.statSync(entry).isFile();
    } catch (err) {
        isFile = false;
    }
    if (!isFile) {
        const message = `Sequence entrypoint path ${entry} is invalid`;
        log.error(message);
        process.stderr.write(message + "\n");
        return finish(Exit.BAD_MAIN);
    }

    send(Code.PING, { id: instanceId, system: { processPID: String(process.pid) } });
    const { appConfig, args } = await ponged;
    log.info("Handshake done; scramjet", scramjet ? "loaded" : "not found: the input is a plain Node stream");
    context.config = appConfig || {};
    reportHealth();
    reportEvery(1);

    const sequence = await load();
    log.info("Sequence loaded, functions count", sequence.functions.length);
    send(Code.PANG, { requires: sequence.requires, contentType: sequence.contentType });
    if (sequence.contentType) startInput(sequence.contentType);

    const result = await run(sequence.functions, Array.isArray(args) ? args : []);
    await writeOutput(result);
    if (ending) return undefined;
    log.info(`Sequence completed. Waiting ${context.exitTimeout}ms with exit.`);
    send(Code.SEQUENCE_COMPLETED, { timeout: context.exitTimeout });
    // Readers of the output get its end now, not after the exit timeout.
    await flushed(output);
    if (context.exitTimeout > 0) {
        await new Promise((resolve) => {
            const timer = setTimeout(resolve, context.exitTimeout);
            exitWait = () => { clearTimeout(timer); resolve(); };
        });
    }
    return finish(Exit.COMPLETED);
}

// What depends on the sequence and the environment: at once for a cold
// runner, on LOAD for a warm one.
function setup() {
    context.instanceId = instanceId;
    hubKey = process.env.TROUPE_HUB_KEY || "";
    scramjet = loadScramjet();
    input = makeInput();
}

// A warm runner's LOAD: what a cold one's command line, environment and
// PONG give it.
function begin({ entry: file, dir, id, env, appConfig, args }) {
    if (dir) process.chdir(dir);
    entry = file || "";
    instanceId = id || "";
    // The command line a cold runner of this instance would have had.
    process.argv.splice(2, process.argv.length - 2, entry, instanceId);
    Object.assign(process.env, env || {});
    setup();
    handshake({ appConfig, args });
    main().catch(fail);
}

if (!warm) {
    setup();
    main().catch(fail);
} else if (process.env.TROUPE_SCRAMJET_MODULES) {
    // The hub's scramjet, loaded while idle: LOAD's loadScramjet finds it
    // in require's cache (it is the copy loadScramjet tries first).
    try {
        require(require.resolve("scramjet", { paths: [process.env.TROUPE_SCRAMJET_MODULES] }));
    } catch (err) {
        // LOAD tries again, and says so in the log
    }
}
