#!/usr/bin/python3
"""Seeds tests/fuzz/corpus/roomfile/ with every room file of the repository:
the examples in docs/rooms/, the ```ini blocks of docs/*.md, and the room-file
texts the tests write (string literals starting with [room] in tests/e2e and
tests/check).  Run it again after adding examples or tests; it only adds."""
import glob
import hashlib
import os
import re

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
corpus = os.path.join(top, 'tests', 'fuzz', 'corpus', 'roomfile')
os.makedirs(corpus, exist_ok=True)


def add(label, text):
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    name = f'{label}-{digest}.ini'
    path = os.path.join(corpus, name)
    if not glob.glob(os.path.join(corpus, f'*-{digest}.ini')):
        with open(path, 'w') as f:
            f.write(text)
        print('added', name)


examples = {}
for path in sorted(glob.glob(os.path.join(top, 'docs', 'rooms', '*.ini'))):
    with open(path) as f:
        name = os.path.basename(path)[:-4]
        examples[name] = f.read()
        add('docs-rooms-' + name, examples[name])

for path in sorted(glob.glob(os.path.join(top, 'docs', '**', '*.md'), recursive=True)):
    with open(path) as f:
        for block in re.findall(r'```ini\n(.*?)```', f.read(), re.S):
            add('docs-' + os.path.basename(path)[:-3], block)

literal = re.compile(r"""(['"`])(\[room\](?:(?!\1)[^\\]|\\.)*)\1""", re.S)
escapes = {'n': '\n', 't': '\t', '\\': '\\', "'": "'", '"': '"', '`': '`'}
for path in sorted(glob.glob(os.path.join(top, 'tests', 'e2e', '*.mjs'))
                   + glob.glob(os.path.join(top, 'tests', 'check', '**', '*.cpp'),
                               recursive=True)):
    with open(path) as f:
        for m in literal.finditer(f.read()):
            text = re.sub(r'\\(.)', lambda e: escapes.get(e.group(1), e.group(1)),
                          m.group(2))
            label = 'test-' + os.path.basename(path).split('.')[0]
            if '${' in text:
                # A template the test puts in place of an example's [room]
                # line: the room files it writes.
                text = re.sub(r'\$\{[^}]*\}', '8081', text)
                for example in examples.values():
                    add(label, example.replace('[room]', text, 1))
            else:
                add(label, text)
