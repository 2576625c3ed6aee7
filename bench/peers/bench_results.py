"""The results writer of the Python peers: the same file as bench/lib/writer.ts writes
(bench/results/<name>.json, schema 1: the run's date, machine, load, versions and
command, then tables of named columns), and the same rule that a bench does not start
on a busy machine. `npm run bench:report` formats the file as the TypeScript writer
does and renders its tables into the docs.

    parser = argparse.ArgumentParser()
    bench_results.add_arguments(parser)
    args = parser.parse_args()
    results = bench_results.start(__file__, 'what it measures', args, {'torch': torch.__version__})
    table = results.table('seed', 'title', [{'key': 'threads', 'label': 'threads', 'digits': 0}])
    table.row(threads=2)
    results.save()
"""
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
MAX_START_LOAD = 0.3


def add_arguments(parser):
    parser.add_argument('--results', help='the file to write (default bench/results/<name>.json)')
    parser.add_argument('--no-results', action='store_true', help='print the JSON line only (for a parent bench)')
    parser.add_argument('--allow-load', action='store_true', help='start even when the machine is busy')


def _lscpu():
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def machine():
    fields = _lscpu()
    described = {
        'cpu': fields.get('Model name') or platform.processor() or 'unknown',
        'cores': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
        'memoryGiB': round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30, 1),
    }
    if 'Hypervisor vendor' in fields:
        described['hypervisor'] = fields['Hypervisor vendor']
    return described


def _git(*args):
    run = subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else None


def load():
    return round(os.getloadavg()[0], 2)


def _round(column, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    digits = column.get('digits')
    return round(value, digits) if digits is not None else float(f'{value:.6g}')


class Table:
    def __init__(self, id, title, columns, echo):
        self.data = {'id': id, 'title': title, 'columns': columns, 'rows': []}
        self._echo = echo
        if echo:
            print(f'\n{title}\n\n| ' + ' | '.join(c['label'] for c in columns) + ' |', file=sys.stderr)

    def row(self, **cells):
        keys = {c['key'] for c in self.data['columns']}
        unknown = set(cells) - keys
        if unknown:
            raise ValueError(f'table {self.data["id"]} has no column {", ".join(sorted(unknown))}')
        kept = {c['key']: _round(c, cells.get(c['key'])) for c in self.data['columns']}
        self.data['rows'].append({'cells': kept})
        if self._echo:
            print('| ' + ' | '.join('' if v is None else str(v) for v in kept.values()) + ' |', file=sys.stderr)


class Results:
    def __init__(self, script, about, args, versions, start_load, note):
        self.bench = os.path.splitext(os.path.relpath(os.path.abspath(script), os.path.join(ROOT, 'bench')))[0]
        name = os.path.basename(self.bench)
        self.path = args.results or os.path.join(ROOT, 'bench', 'results', f'{name}.json')
        self.enabled = not args.no_results
        self.about = about
        self.tables = []
        commit = _git('rev-parse', '--short', 'HEAD')
        if commit is not None and _git('status', '--porcelain', '--untracked-files=no'):
            commit += '-dirty'
        self.run = {
            'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
            'machine': machine(),
            'load': {'start': start_load, 'end': None, **({'note': note} if note else {})},
            'versions': {'python': platform.python_version(), **versions, **({'commit': commit} if commit else {})},
            'command': ' '.join(['python3', os.path.relpath(os.path.abspath(script), ROOT), *sys.argv[1:]]),
        }

    def table(self, id, title, columns):
        table = Table(id, title, columns, self.enabled)
        self.tables.append(table)
        return table

    def save(self, merge=()):
        """Writes the file; `merge` lists (table id, key columns) whose other rows in the existing file stay."""
        if not self.enabled:
            return
        self.run['load']['end'] = load()
        fresh = {'schema': 1, 'bench': self.bench, 'about': self.about, 'runs': [self.run],
                 'tables': [t.data for t in self.tables]}
        if merge and os.path.exists(self.path):
            with open(self.path) as f:
                old = json.load(f)
            for table_id, keys in merge:
                fresh = _merge(old, fresh, table_id, keys)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        temp = f'{self.path}.{os.getpid()}.tmp'
        with open(temp, 'w') as f:
            json.dump(fresh, f, indent=2)
            f.write('\n')
        os.replace(temp, self.path)
        print(f'wrote {self.path} (npm run bench:report formats it and updates the docs)', file=sys.stderr)


def _merge(old, fresh, table_id, keys):
    old_table = next((t for t in old['tables'] if t['id'] == table_id), None)
    fresh_table = next((t for t in fresh['tables'] if t['id'] == table_id), None)
    if old_table is None or fresh_table is None:
        return fresh
    key = lambda row: json.dumps([row['cells'].get(k) for k in keys])
    replaced = {key(r) for r in fresh_table['rows']}
    runs = list(fresh['runs'])
    index = {}
    kept = []
    for row in old_table['rows']:
        if key(row) in replaced:
            continue
        source = row.get('run', 0)
        if source not in index:
            run = old['runs'][source]
            index[source] = runs.index(run) if run in runs else len(runs)
            if run not in runs:
                runs.append(run)
        kept.append({**row, 'run': index[source]})
    rows = kept + [{**r, 'run': r.get('run', 0)} for r in fresh_table['rows']]
    tables = [{**t, 'rows': rows} if t['id'] == table_id else t for t in fresh['tables']]
    return {**fresh, 'runs': runs, 'tables': tables}


def start(script, about, args, versions):
    """Refuses a busy machine (unless --allow-load or --no-results) and opens the results."""
    start_load = load()
    note = None
    if start_load > MAX_START_LOAD and not args.no_results:
        problem = f'load average {start_load} is above {MAX_START_LOAD}: other work is running, so timings would mix with it'
        if not args.allow_load:
            sys.exit(f'{os.path.relpath(os.path.abspath(script), ROOT)}: {problem}; wait for an idle machine, or pass --allow-load')
        note = f'started at load {start_load} (above {MAX_START_LOAD}) with --allow-load'
        print(f'\n*** WARNING: {note} ***\n', file=sys.stderr)
    return Results(script, about, args, versions, start_load, note)
