"""Troupe's Python runner: runs one sequence in this process and speaks with
the hub over the pipes the hub opened for it (see package instance):

    python3 -u runner.py <entry file> [instance id]
    python3 -u runner.py --warm <token>

With --warm it is started ahead of its instance: it waits for a LOAD
message on the control pipe that brings the entry, the working folder, the
instance id, more environment, and the handshake's appConfig and args, and
runs that sequence as if it had been started with them.

The sequence's module defines run(context, input, *args). Standard library
only: it ships inside the hub's binary. The input is a scramjet Stream, as
the original runner gives it: the scramjet framework's when it is
importable (from the sequence's __pypackages__, which is on the import
path, or the host's), else the runner's own small Stream (map, filter,
each, batch, flatmap, to_list, async iteration), which is then also what
"from scramjet.streams import Stream" imports.
"""

import asyncio
import codecs
import datetime
import importlib.util
import inspect
import json
import logging
import os
import sys
import traceback

PING = 3000
MONITORING = 3001
SEQUENCE_STOPPED = 3006
ALIVE = 3010
SEQUENCE_COMPLETED = 3011
PANG = 3012
INPUT_CONTENT_TYPE = 3013
PONG = 4000
STOP = 4001
KILL = 4002
MONITORING_RATE = 4003
MONITORING_REPLY = 4004
EVENT = 5001
LOAD = 4100

EXIT_COMPLETED = 0
EXIT_BAD_ENVIRONMENT = 20
EXIT_BAD_MAIN = 21
EXIT_FAILED_ON_START = 22
EXIT_FAILED_RUNNING = 23
EXIT_KILLED = 137
EXIT_STOPPED = 138

FD_CONTROL, FD_MONITORING, FD_INPUT, FD_OUTPUT, FD_LOG = 3, 4, 5, 6, 7


class LogFormatter(logging.Formatter):
    """Lines like the Node runner's: time, level, (source), message."""

    def format(self, record):
        when = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = f"{stamp} {record.levelname.lower()} ({record.name}) {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


async def open_writer(loop, fd):
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0))
    # drain() then waits until everything is in the pipe: the pipe is the
    # buffer, and finish() knows when the output has left.
    transport.set_write_buffer_limits(high=0)
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def open_reader(loop, fd):
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    return reader


class Input:
    """The sequence's input: an async iterator of str (text/plain), bytes
    (application/octet-stream and the rest) or JSON values (x-ndjson).
    Nothing is read from the pipe before the content type is known."""

    def __init__(self, runner):
        self._runner = runner
        self._started = False
        self._content_type = None
        self._known = asyncio.Event()
        self._reader = None
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    async def start(self, content_type):
        if self._started:
            return
        self._started = True
        self._content_type = content_type or ""
        self._reader = await open_reader(asyncio.get_running_loop(), FD_INPUT)
        self._known.set()

    def __aiter__(self):
        return self

    async def __anext__(self):
        await self._known.wait()
        if self._content_type.endswith("x-ndjson"):
            while True:
                line = await self._reader.readline()
                if not line:
                    raise StopAsyncIteration
                if not line.strip():
                    continue
                try:
                    return json.loads(line)
                except ValueError:
                    self._runner.log.warning("Input line is not JSON, skipped: %.200r", line)
        if self._content_type == "text/plain":
            # Decoded and split into lines, each with its line end, as the
            # original's Python runner gives text.
            while True:
                try:
                    line = await self._reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as end:
                    line = end.partial
                except asyncio.LimitOverrunError as over:
                    line = await self._reader.readexactly(over.consumed)
                text = self._decoder.decode(line, final=not line)
                if text:
                    return text
                if not line:
                    raise StopAsyncIteration
        chunk = await self._reader.read(1 << 16)
        if chunk:
            return chunk
        raise StopAsyncIteration


class Context:
    """What run() gets as its first argument."""

    def __init__(self, runner):
        self._runner = runner
        self.config = {}
        self.instance_id = runner.instance_id
        self.logger = logging.getLogger("Sequence")

    @property
    def app_config(self):
        return self.config

    def on(self, event_name, handler):
        self._runner.events.setdefault(event_name, []).append(handler)
        return self

    def emit(self, event_name, message=None):
        self._runner.send(EVENT, {"eventName": event_name, "message": message})
        return self

    def keep_alive(self, milliseconds=0):
        """Chainable, and awaitable as the original's coroutine is."""
        self._runner.keep_alive_requested = True
        self._runner.send(ALIVE, {"keepAlive": milliseconds or 0})
        return _Chained(self)

    def add_stop_handler(self, handler):
        self._runner.stop_handlers.append(handler)
        return self

    set_stop_handler = add_stop_handler  # the original runner's name

    def add_kill_handler(self, handler):
        self._runner.kill_handlers.append(handler)
        return self

    def set_health_check(self, check):
        self._runner.health_check = check
        return self


class _Chained:
    """The context, also awaitable: `await context.keep_alive()` and
    `context.keep_alive().emit(...)` both work."""

    def __init__(self, context):
        self._context = context

    def __getattr__(self, name):
        return getattr(self._context, name)

    def __await__(self):
        return self._context
        yield  # pragma: no cover - makes this a generator


def scramjet_stream():
    """The scramjet framework's Stream, else the runner's own, which is then
    what the sequence's "from scramjet.streams import Stream" imports."""
    try:
        from scramjet.streams import Stream
    except ImportError:
        streams = type(sys)("scramjet.streams")
        streams.Stream = Stream = OwnStream
        package = sys.modules.setdefault("scramjet", type(sys)("scramjet"))
        package.streams = streams
        sys.modules["scramjet.streams"] = streams
        return OwnStream, False
    return Stream, True


class OwnStream:
    """The scramjet Stream methods the samples use, over an async iterator
    (or, for the input, what write and end give it; bounded, so that a
    sequence that does not read slows the input down)."""

    def __init__(self, source=None, max_parallel=64):
        self._source = source
        if source is None:
            self._queue = asyncio.Queue(max_parallel)

    @classmethod
    def read_from(cls, iterable, **_):
        if hasattr(iterable, "__aiter__"):
            return cls(iterable)

        async def items():
            for item in iterable:
                yield item
        return cls(items())

    async def write(self, chunk):
        await self._queue.put((chunk,))

    async def end(self):
        await self._queue.put(None)

    def __aiter__(self):
        return self._items()

    async def _items(self):
        if self._source is not None:
            async for item in self._source:
                yield item
            return
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item[0]

    def _then(self, step):
        async def items():
            async for item in self:
                async for out in step(item):
                    yield out
        return OwnStream(items())

    def map(self, fn, *args):
        async def step(item):
            yield await settle(fn(item, *args))
        return self._then(step)

    def filter(self, fn, *args):
        async def step(item):
            if await settle(fn(item, *args)):
                yield item
        return self._then(step)

    def each(self, fn, *args):
        async def step(item):
            await settle(fn(item, *args))
            yield item
        return self._then(step)

    def flatmap(self, fn, *args):
        async def step(item):
            for out in await settle(fn(item, *args)):
                yield out
        return self._then(step)

    def batch(self, size):
        async def items():
            batch = []
            async for item in self:
                batch.append(item)
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        return OwnStream(items())

    async def to_list(self):
        return [item async for item in self]


async def feed(stream, source):
    """Copies the runner's input into a scramjet Stream."""
    for method, chunks in (("write", source), ("end", None)):
        if chunks is None:
            result = getattr(stream, method)()
            if inspect.isawaitable(result):
                await result
            return
        async for chunk in chunks:
            result = getattr(stream, method)(chunk)
            if inspect.isawaitable(result):
                await result


async def settle(value):
    return await value if inspect.isawaitable(value) else value


def encode(chunk, ndjson):
    """Strings and bytes go as they are, other values as JSON lines; with an
    x-ndjson content type every chunk is a JSON line."""
    if not ndjson:
        if isinstance(chunk, str):
            return chunk.encode()
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            return bytes(chunk)
    return (json.dumps(chunk) + "\n").encode()


class Runner:
    def __init__(self, entry, instance_id):
        self.entry = entry
        self.instance_id = instance_id
        self.log = logging.getLogger("Runner")
        self.events = {}
        self.stop_handlers = []
        self.kill_handlers = []
        self.health_check = None
        self.keep_alive_requested = False
        self.stop_expected = False
        self.phase = "starting"
        self.ending = False
        self.ponged = None
        self.monitoring = None
        self.output = None
        self.input = None
        self.context = None
        self.health_interval = 1.0
        self.tasks = set()

    def send(self, code, data=None):
        if self.monitoring is not None and not self.monitoring.is_closing():
            line = json.dumps([code, {} if data is None else data]) + "\n"
            self.monitoring.write(line.encode())

    def spawn(self, coro):
        """Runs coro on its own; a failure there is the sequence's."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task):
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.fail(task.exception())

    def fail(self, err):
        if self.ending:
            return
        failed_on_start = self.phase == "starting"
        what = "Sequence failed on start" if failed_on_start else "Sequence failed"
        if isinstance(err, BaseException):
            self.log.error(what, exc_info=err)
            # The traceback goes to stderr too, as an uncaught one would.
            traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
        else:
            self.log.error("%s: %s", what, err)
            print(f"{what}: {err}", file=sys.stderr)
        self.spawn(self.finish(EXIT_FAILED_ON_START if failed_on_start else EXIT_FAILED_RUNNING))

    async def finish(self, code):
        """Exits once what the sequence wrote has left for the hub."""
        if self.ending:
            return
        self.ending = True
        for writer in (self.output, self.monitoring):
            if writer is not None:
                try:
                    await writer.drain()
                except OSError:
                    pass  # the hub closed the pipe: nothing left to deliver
        self.exit_now(code)

    def exit_now(self, code):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    async def wait_load(self, control):
        """A warm runner's LOAD: what a cold one's command line, environment
        and PONG give it. The hub gone before it came, the runner exits."""
        while True:
            line = await control.readline()
            if not line:
                self.exit_now(EXIT_KILLED)
            try:
                code, data = json.loads(line)
            except ValueError:
                continue
            if code == LOAD:
                break
            self.log.warning("Control message %s before LOAD", code)
        data = data or {}
        if data.get("dir"):
            os.chdir(data["dir"])
        self.entry = os.path.abspath(data.get("entry") or "")
        self.instance_id = data.get("id") or ""
        # The command line a cold runner of this instance would have had.
        sys.argv[1:] = [self.entry, self.instance_id]
        os.environ.update(data.get("env") or {})
        self.ponged.set_result({"appConfig": data.get("appConfig"), "args": data.get("args")})

    async def control_loop(self, control):
        while True:
            line = await control.readline()
            if not line:
                break  # the hub is gone: nobody will read the output any more
            if not line.strip():
                continue
            try:
                code, data = json.loads(line)
            except ValueError:
                self.log.warning("Unreadable control message %r", line)
                continue
            self.on_control(code, data or {})
        self.on_kill()

    def on_control(self, code, data):
        if code == PONG:
            if not self.ponged.done():
                self.ponged.set_result(data)
        elif code == STOP:
            # As the original: a kill after the stop handlers are done ends
            # the stop (138); one while they still run is a kill (137).
            if not self.stop_handlers:
                self.stop_expected = True
            self.spawn(self.on_stop(data))
        elif code == KILL:
            self.on_kill()
        elif code == EVENT:
            for handler in list(self.events.get(data.get("eventName"), [])):
                result = handler(data.get("message"))
                if inspect.isawaitable(result):
                    self.spawn(result)
        elif code == INPUT_CONTENT_TYPE:
            self.spawn(self.input.start(data.get("contentType")))
        elif code == MONITORING_RATE:
            if data.get("monitoringRate", 0) > 0:
                self.health_interval = 1.0 / data["monitoringRate"]
        elif code != MONITORING_REPLY:
            self.log.warning("Unknown control message %s", code)

    async def on_stop(self, data):
        # Seconds, as the original Python runner gives its handlers.
        timeout = data.get("timeout", 7000) / 1000
        can_keep_alive = bool(data.get("canCallKeepalive", False))
        self.log.info("Stop requested, timeout %ss, canCallKeepalive %s", timeout, can_keep_alive)
        self.keep_alive_requested = False
        for handler in self.stop_handlers:
            try:
                await settle(handler(timeout, can_keep_alive))
            except Exception:
                self.log.exception("Stop handler failed")
        if can_keep_alive and self.keep_alive_requested:
            self.log.info("Sequence kept itself alive")
            return
        self.stop_expected = True
        self.send(SEQUENCE_STOPPED, {})
        await self.finish(EXIT_STOPPED)

    def on_kill(self):
        self.log.info("Kill requested")
        for handler in self.kill_handlers:
            try:
                handler()
            except Exception:
                self.log.exception("Kill handler failed")
        # A kill that ends a stop (its timeout passed) is the stop's end.
        self.exit_now(EXIT_STOPPED if self.stop_expected else EXIT_KILLED)

    async def health_loop(self):
        while True:
            healthy = True
            if self.health_check is not None:
                try:
                    report = await settle(self.health_check())
                    healthy = bool(report.get("healthy", True)) if isinstance(report, dict) else bool(report)
                except Exception:
                    healthy = False
            self.send(MONITORING, {"healthy": healthy})
            await asyncio.sleep(self.health_interval)

    def load(self):
        folder = os.path.dirname(self.entry)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        # The sequence's own packages: __pypackages__ itself and PEP 582's
        # __pypackages__/X.Y/lib.
        for packages in (os.path.join(os.getcwd(), "__pypackages__"), os.path.join(folder, "__pypackages__")):
            version_lib = os.path.join(packages, f"{sys.version_info[0]}.{sys.version_info[1]}", "lib")
            for path in (version_lib, packages):
                if os.path.isdir(path) and path not in sys.path:
                    sys.path.insert(1, path)
        name = os.path.splitext(os.path.basename(self.entry))[0]
        spec = importlib.util.spec_from_file_location(name, self.entry)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if not callable(getattr(module, "run", None)):
            raise TypeError("the sequence must define run(context, input, *args)")
        return module

    async def write_output(self, result, declared_type=""):
        # As the original's "if result:": a run that returns nothing, or a
        # false value (0, False, "", an empty dict or list), writes nothing.
        if result is None or isinstance(result, (str, bytes, bytearray, int, float, dict, list, tuple)) and not result:
            return
        topic = getattr(result, "provides", None)
        content_type = getattr(result, "content_type", None) or declared_type or ""
        if topic:
            self.send(PANG, {"provides": topic, "contentType": content_type})
        ndjson = content_type.endswith("x-ndjson")
        if hasattr(result, "__aiter__"):
            async for chunk in result:
                await self.write_chunk(chunk, ndjson)
        elif isinstance(result, (str, bytes, bytearray, dict)) or not hasattr(result, "__iter__"):
            await self.write_chunk(result, ndjson)
        else:
            for chunk in result:
                await self.write_chunk(chunk, ndjson)

    async def write_chunk(self, chunk, ndjson):
        if chunk is None:
            return
        self.output.write(encode(chunk, ndjson))
        await self.output.drain()

    async def main(self):
        loop = asyncio.get_running_loop()
        try:
            control = await open_reader(loop, FD_CONTROL)
            self.monitoring = await open_writer(loop, FD_MONITORING)
            self.output = await open_writer(loop, FD_OUTPUT)
            log_pipe = os.fdopen(FD_LOG, "w", buffering=1, encoding="utf-8")
        except (OSError, ValueError) as err:
            print(f"troupe runner: the hub's pipes are missing: {err}", file=sys.stderr)
            self.exit_now(EXIT_BAD_ENVIRONMENT)
        handler = logging.StreamHandler(log_pipe)
        handler.setFormatter(LogFormatter())
        logging.basicConfig(level=logging.DEBUG, handlers=[handler])
        loop.set_exception_handler(lambda _loop, ctx: self.fail(ctx.get("exception") or ctx["message"]))

        self.ponged = loop.create_future()
        if self.entry is None:
            await self.wait_load(control)

        if not os.path.isfile(self.entry):
            message = f"Sequence entrypoint path {self.entry} is invalid"
            self.log.error(message)
            print(message, file=sys.stderr)
            await self.finish(EXIT_BAD_MAIN)

        self.input = Input(self)
        self.context = Context(self)
        self.spawn(self.control_loop(control))
        self.send(PING, {"id": self.instance_id, "system": {"processPID": str(os.getpid())}})
        handshake = await self.ponged
        self.context.config = handshake.get("appConfig") or {}
        args = handshake.get("args") or []
        self.spawn(self.health_loop())

        # Before the sequence's module is loaded: it may import the Stream.
        stream_class, framework = scramjet_stream()
        try:
            module = self.load()
        except BaseException as err:
            self.fail(err)
            return
        self.log.info("Sequence loaded")
        requires = getattr(module, "requires", None) or {}
        provides = getattr(module, "provides", None) or {}
        self.send(PANG, {"requires": requires.get("requires", ""),
                         "contentType": requires.get("contentType", "")})
        if requires.get("contentType"):
            await self.input.start(requires["contentType"])

        self.phase = "running"
        try:
            given = stream_class()
            self.spawn(feed(given, self.input))
            self.log.info("Running the sequence; scramjet %s", "loaded" if framework else "not importable: the input is the runner's own Stream")
            result = module.run(self.context, given, *args)
            # Only a coroutine is awaited: a returned stream is streamed.
            if asyncio.iscoroutine(result):
                result = await result
            if provides.get("provides") and getattr(result, "provides", None) is None:
                self.send(PANG, {"provides": provides["provides"], "contentType": provides.get("contentType", "")})
            runtime_requires = getattr(result, "requires", None)
            if isinstance(runtime_requires, str) and runtime_requires:
                self.send(PANG, {"requires": runtime_requires, "contentType": getattr(result, "content_type", "") or ""})
            await self.write_output(result, provides.get("contentType", ""))
        except Exception as err:
            self.fail(err)
            return
        self.log.info("Sequence completed")
        self.send(SEQUENCE_COMPLETED, {})
        await self.finish(EXIT_COMPLETED)


def main():
    if len(sys.argv) < 2:
        print("troupe runner: no sequence entry given", file=sys.stderr)
        sys.exit(EXIT_BAD_ENVIRONMENT)
    if sys.argv[1] == "--warm":
        runner = Runner(None, "")
    else:
        runner = Runner(os.path.abspath(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
    loop = asyncio.new_event_loop()
    loop.create_task(runner.main()).add_done_callback(
        lambda task: task.cancelled() or task.exception() is None or runner.fail(task.exception()))
    loop.run_forever()


if __name__ == "__main__":
    main()
