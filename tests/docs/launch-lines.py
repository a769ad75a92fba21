#!/usr/bin/python3
"""Every documented launch line runs.

Extracts each gst-launch-1.0 command from the element doc blocks (the |[ ... ]|
blocks of elements/**/*.cpp) and from the code blocks of docs/**/*.md and
README.md (fenced or indented; lines joined at `\\` continuations), and runs it
against the uninstalled plugins (meson's test environment), in a private
directory for its /tmp files, display sinks replaced by fakesink.

A line whose sources all stop (num-buffers, files) must end by itself within
ROOMS_DOC_LINE_TIMEOUT seconds (default 45) with exit status 0.  A line with an
endless source (a test source without num-buffers) runs for
ROOMS_DOC_LIVE_SECONDS (default 5) and passes if it is still running without an
error then.  Lines needing hardware (a camera, a sound card) are listed as
skipped.  tests/docs/known-broken.txt lists lines known to fail (or to fail
now and then), each with the reason: they are reported, never failed; remove
an entry when its line is fixed.

  launch-lines.py            run them all
  launch-lines.py --list     only print what would run
  launch-lines.py FILTER     run those whose file:line contains FILTER
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

top = os.environ.get('ROOMS_SOURCE_ROOT') or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
line_timeout = float(os.environ.get('ROOMS_DOC_LINE_TIMEOUT', '45'))
live_seconds = float(os.environ.get('ROOMS_DOC_LIVE_SECONDS', '5'))

DISPLAY_SINKS = r'\b(autovideosink|autoaudiosink|xvimagesink|ximagesink|glimagesink|waylandsink|pulsesink|alsasink)\b'
HARDWARE_SOURCES = r'\b(v4l2src|autovideosrc|autoaudiosrc|pulsesrc|alsasrc|pipewiresrc)\b'
ENDLESS_SOURCES = r'\b(videotestsrc|audiotestsrc|imagefreeze)\b'


def join_continuations(lines):
    """[(number, text)] -> [(first number, joined text)] at trailing `\\`."""
    out = []
    pending = None
    for number, text in lines:
        if pending is None:
            pending = [number, text.rstrip()]
        else:
            pending[1] = pending[1] + ' ' + text.strip()
        if pending[1].endswith('\\'):
            pending[1] = pending[1][:-1].rstrip()
        else:
            out.append(tuple(pending))
            pending = None
    if pending:
        out.append(tuple(pending))
    return out


def commands_in(lines):
    """The gst-launch-1.0 commands among joined lines."""
    found = []
    for number, text in join_continuations(lines):
        text = text.strip()
        text = re.sub(r'^\$\s+', '', text)
        text = re.sub(r'^meson devenv -C build\s+', '', text)
        if re.match(r'(.*&&\s*)?gst-launch-1\.0\s', text):
            found.append((number, re.sub(r'\s+', ' ', text)))
    return found


def element_doc_lines(path):
    """Lines of the |[ ... ]| blocks of a source file's doc comments."""
    with open(path) as f:
        source = f.read().split('\n')
    block, found = None, []
    for number, raw in enumerate(source, 1):
        text = re.sub(r'^\s*\*( |$)', '', raw)
        if block is None:
            if text.strip().startswith('|['):
                block = []
                rest = text.strip()[2:]
                if rest.strip():
                    block.append((number, rest))
        elif text.strip().startswith(']|'):
            found += commands_in(block)
            block = None
        else:
            block.append((number, text))
    return found


def markdown_lines(path):
    """Lines of the code blocks (``` fenced or indented) of a markdown file."""
    with open(path) as f:
        source = f.read().split('\n')
    found, block, fenced = [], [], False
    for number, raw in enumerate(source, 1):
        if raw.strip().startswith('```'):
            if fenced:
                found += commands_in(block)
                block = []
            fenced = not fenced
        elif fenced:
            block.append((number, raw))
        elif raw.startswith('    ') or raw.startswith('\t'):
            block.append((number, raw.strip()))
        else:
            found += commands_in(block)
            block = []
    found += commands_in(block)
    return found


def all_lines():
    lines = []
    for path in sorted(glob.glob(os.path.join(top, 'elements', '**', '*.cpp'), recursive=True)):
        lines += [(os.path.relpath(path, top), n, c) for n, c in element_doc_lines(path)]
    docs = sorted(glob.glob(os.path.join(top, 'docs', '**', '*.md'), recursive=True))
    for path in [os.path.join(top, 'README.md')] + docs:
        lines += [(os.path.relpath(path, top), n, c) for n, c in markdown_lines(path)]
    return lines


def known_broken():
    """{(file, substring): reason} from known-broken.txt."""
    known = {}
    path = os.path.join(top, 'tests', 'docs', 'known-broken.txt')
    if os.path.exists(path):
        with open(path) as f:
            for raw in f:
                if raw.strip() and not raw.startswith('#'):
                    file, substring, reason = raw.rstrip('\n').split('\t', 2)
                    known[(file, substring)] = reason
    return known


def is_endless(command):
    launch = command[command.index('gst-launch-1.0'):]
    for m in re.finditer(ENDLESS_SOURCES, launch):
        element = launch[m.start():].split('!')[0]
        if 'num-buffers=' not in element:
            return True
    return False


def thread_stacks(session):
    """Every thread's stack of the hung gst-launch-1.0, so a hang names its place."""
    found = subprocess.run(['pgrep', '-s', str(session), '-x', 'gst-launch-1.0'],
                           capture_output=True, text=True).stdout.split()
    stacks = ''
    for pid in found:
        try:
            stacks += subprocess.run(
                ['gdb', '-p', pid, '-batch', '-ex', 'thread apply all bt 30'],
                capture_output=True, text=True, errors='replace', timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            stacks += f'(no stacks of {pid}: {e})\n'
    return '\n---- thread stacks ----\n' + stacks if stacks else ''


def run(command, workdir, known_broken=False):
    """(ok, what happened, output)."""
    endless = is_endless(command)
    limit = live_seconds if endless else line_timeout
    if known_broken:  # reported either way: no need to wait as long
        limit = min(limit, 10)
    shell = re.sub(DISPLAY_SINKS, 'fakesink', command).replace('/tmp/', workdir + '/')
    env = dict(os.environ, GST_TRACERS='', GST_DEBUG='*:1', GST_DEBUG_NO_COLOR='1')
    start = time.monotonic()
    proc = subprocess.Popen(['bash', '-c', shell], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors='replace', start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        stacks = '' if endless or known_broken else thread_stacks(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += stacks
        timed_out = True
    took = time.monotonic() - start
    errors = [l for l in output.splitlines()
              if re.match(r'(ERROR|WARNING: erroneous pipeline)', l)
              or '-CRITICAL **' in l or re.search(r'\bSegmentation fault|Aborted\b', l)]
    if errors:
        return False, f'error after {took:.1f} s: ' + errors[0], output
    if timed_out:
        if endless:
            return True, f'still running after {took:.0f} s (endless source), no error', output
        return False, f'did not end within {limit:.0f} s (all its sources are bounded)', output
    if proc.returncode != 0:
        return False, f'exit status {proc.returncode} after {took:.1f} s', output
    return True, f'ended in {took:.1f} s', output


def main():
    args = sys.argv[1:]
    lines = all_lines()
    if args and args[0] == '--list':
        for file, number, command in lines:
            print(f'{file}:{number}: {"[endless] " if is_endless(command) else ""}{command}')
        return 0
    if args:
        lines = [l for l in lines if args[0] in f'{l[0]}:{l[1]}']
    known = known_broken()
    failed, broken, fixed, skipped = [], [], [], []
    for file, number, command in lines:
        where = f'{file}:{number}'
        if re.search(HARDWARE_SOURCES, command):
            skipped.append(where)
            print(f'SKIP {where}: needs a camera or sound card: {command}')
            continue
        reason = next((r for (f, s), r in known.items() if f == file and s in command), None)
        workdir = tempfile.mkdtemp(prefix='doc-line-')
        try:
            ok, what, output = run(command, workdir, reason is not None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if ok and reason:
            fixed.append(where)
            print(f'RAN  {where}: {what} -- listed in tests/docs/known-broken.txt '
                  f'({reason}); remove the entry once it is fixed')
        elif ok:
            print(f'ok   {where}: {what}')
        elif reason:
            broken.append(where)
            print(f'KNOWN-BROKEN {where}: {what} ({reason})')
        else:
            failed.append(where)
            print(f'FAIL {where}: {what}\n     {command}')
            head, marker, stacks = output.partition('\n---- thread stacks ----\n')
            print('     ' + '\n     '.join(head.strip().splitlines()[-15:]))
            if marker:
                print('     thread stacks of the hung gst-launch-1.0:\n     '
                      + '\n     '.join(stacks.strip().splitlines()[:600]))
        sys.stdout.flush()
    print(f'\n{len(lines)} launch lines: {len(lines) - len(failed) - len(broken) - len(skipped) - len(fixed)} ran, '
          f'{len(failed)} failed, {len(broken)} known broken, {len(skipped)} skipped, '
          f'{len(fixed)} listed as broken but ran')
    for where in failed:
        print(f'FAILED: {where}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
