"""tools/analysis_tools/benchmark.py --configs: --json and --markdown are written, and a
missing config is refused before any model is built."""
import json

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
CLS = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


def test_configs_write_json_and_markdown(tool, tmp_path):
    out_json, out_md = tmp_path / 'r' / 'b.json', tmp_path / 'b.md'
    results = tool('analysis_tools/benchmark').main(
        ['--configs', CLS, '--json', str(out_json), '--markdown', str(out_md)])
    written = json.loads(out_json.read_text())
    assert written[CLS]['params'] == results[CLS]['params'] > 0
    table = out_md.read_text().splitlines()
    assert table[0].startswith('| config |') and len(table) == 3
    assert table[2].startswith('| mpvg-vit-demo_mpvg_1xb64_demo-cls.py | 32 x 32 |')
    assert f'{results[CLS]["params"] / 1e6:.3f}' in table[2]


def test_missing_config_is_refused_up_front(tool, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tool('analysis_tools/benchmark').main(
            ['--configs', CLS, str(tmp_path / 'nope.py'), '--json', str(tmp_path / 'b.json')])
    assert exit_info.value.code == 2
    assert 'nope.py not found' in capsys.readouterr().err
    assert not (tmp_path / 'b.json').exists()
