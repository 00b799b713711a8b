"""tools/test.py takes a checkpoint for what it records: a folded MPVG checkpoint builds the
folded model (item 7 of issue 13), weights that do not fit the model are an error (item 8)."""
import pickle

import pytest
import torch
from mmengine.config import Config

from mpvg_mm import cli
from mpvg_mm.models.folding import fold_last_ln_pe
from mpvg_mm.registry import build_model

ROOT = __file__.rsplit('/tests/', 1)[0]
CONFIG = f'{ROOT}/configs/demo/mpvg-vit-demo_{{}}_1xb64_demo-cls.py'
pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def data_options(tmp_path_factory, tool):
    out = tmp_path_factory.mktemp('demo')
    tool('make_demo_data').main([str(out), '--formats', 'imagenet', '--num-train', '1',
                                 '--num-val', '1'])
    root = f'{out}/imagenet'
    return ['--cfg-options', f'test_dataloader.dataset.data_root={root}',
            'test_dataloader.batch_size=8']


def _checkpoint(path, preset, seed=0, **meta):
    torch.manual_seed(seed)
    model = build_model(Config.fromfile(CONFIG.format(preset)))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return model


def _scores(path):
    with open(path, 'rb') as f:
        return torch.stack([torch.as_tensor(p['pred_score']) for p in pickle.load(f)])


def test_folded_checkpoint_is_tested_as_folded(tmp_path, data_options):
    model = _checkpoint(tmp_path / 'mpvg.pth', 'mpvg').eval()
    state, update = fold_last_ln_pe(model)
    torch.save(dict(state_dict=state, meta=dict(folded_last_ln_pe=True,
                                                folded_pe_cfg=update['pe_cfg'])),
               tmp_path / 'folded.pth')
    for name in ('mpvg', 'folded'):  # both with the unfolded MPVG config
        cli.test_main([CONFIG.format('mpvg'), str(tmp_path / f'{name}.pth'), '--work-dir',
                   str(tmp_path / name), '--out', str(tmp_path / f'{name}.pkl'), *data_options])
    want, got = _scores(tmp_path / 'mpvg.pkl'), _scores(tmp_path / 'folded.pkl')
    assert want.shape == (8, 8)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_preset_is_refused_unless_non_strict(tmp_path, data_options):
    _checkpoint(tmp_path / 'lape.pth', 'lape')
    args = [CONFIG.format('mpvg'), str(tmp_path / 'lape.pth'), '--work-dir', str(tmp_path),
            *data_options]
    with pytest.raises(ValueError, match=r'lape\.pth does not fit the model of .*mpvg.*: '
                       r'missing in the checkpoint .*backbone\.pe\.last_norm\.weight.*'
                       r'not in the model .*cls_token.*--non-strict'):
        cli.test_main(args)
    assert 'accuracy/top1' in cli.test_main([*args[:2], '--non-strict', *args[2:]])


def test_checkpoint_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path,
                                                                         data_options):
    model = _checkpoint(tmp_path / 'ok.pth', 'mpvg')
    state = model.state_dict()
    state['head.fc.weight'][0, 0] = float('nan')
    torch.save(dict(state_dict=state, meta={}), tmp_path / 'diverged.pth')
    with pytest.raises(ValueError, match=r'diverged\.pth: the weight head\.fc\.weight holds '
                       r'NaN or infinite values'):
        cli.test_main([CONFIG.format('mpvg'), str(tmp_path / 'diverged.pth'), '--work-dir',
                       str(tmp_path), *data_options])
