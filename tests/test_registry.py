"""Registration is explicit and idempotent, skips toolboxes that are not installed, and
the PE structures need neither OpenMMLab nor a registration (torch and timm alone)."""
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from mpvg_mm.models.pos_embed import build_pe_structure
from mpvg_mm.registry import SCOPES, SHARED_MODULES, build_model, register_all_modules

ROOT = __file__.rsplit('/tests/', 1)[0]

# Runs first in a fresh interpreter: makes the named top-level packages unimportable, as
# if they were not installed.
BLOCK = textwrap.dedent('''
    import sys
    class Blocker:
        def __init__(self, names):
            self.names = set(names)
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.names:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
    sys.meta_path.insert(0, Blocker(sys.argv[1].split(',')))
    sys.path.insert(0, sys.argv[2])
''')


def _run_blocked(blocked, body):
    proc = subprocess.run([sys.executable, '-c', BLOCK + textwrap.dedent(body), blocked, ROOT],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_registration_is_idempotent():
    import importlib
    before = {s: dict(importlib.import_module(f'{s}.registry').MODELS.module_dict)
              for s in SCOPES}
    assert register_all_modules() == list(SCOPES)
    assert register_all_modules() == list(SCOPES)
    for scope in SCOPES:
        registry = importlib.import_module(f'{scope}.registry')
        assert registry.MODELS.module_dict == before[scope]
        for registry_name, path, name in SHARED_MODULES:
            module = getattr(importlib.import_module(path), name)
            assert getattr(registry, registry_name).get(name) is module, (scope, name)


def test_pe_structures_need_torch_alone_and_work_next_to_timm():
    out = _run_blocked('mmengine,mmcv,mmpretrain,mmdet,mmseg', '''
        import torch, timm
        from timm.layers import resample_abs_pos_embed
        import mpvg_mm
        from mpvg_mm.registry import register_all_modules
        from mpvg_mm.models.pos_embed import (PE_PRESETS, LayerwisePositionEmbedding,
                                              resample_pos_embed)
        assert register_all_modules() == []
        assert not [m for m in sys.modules if m.split('.')[0] in
                    ('mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg')]
        vit = timm.create_model('vit_tiny_patch16_224', pretrained=False, class_token=False,
                                global_pool='avg', num_classes=0)
        pos_0 = vit.pos_embed.detach()  # (1, 196, 192)
        pos_0 = resample_pos_embed(pos_0, (14, 14), (16, 16))
        ref = resample_abs_pos_embed(vit.pos_embed.detach(), [16, 16], [14, 14],
                                     num_prefix_tokens=0, antialias=False)
        torch.testing.assert_close(pos_0, ref)
        for name, (structure, _) in PE_PRESETS.items():
            plan = LayerwisePositionEmbedding(structure, len(vit.blocks), 192)(pos_0)
            used = [l for l, p in enumerate(plan.blocks) if p is not None]
            print(name, used[:2], plan.last is not None)
    ''')
    assert 'default [] False' in out and 'lape [0, 1] False' in out
    assert 'pvg [1, 2] False' in out and 'mpvg [1, 2] True' in out


def test_a_missing_toolbox_is_skipped_unless_asked_for():
    out = _run_blocked('mmdet', '''
        import mpvg_mm
        from mpvg_mm.registry import register_all_modules
        print('registered', register_all_modules())
        from mmseg.registry import DATASETS, MODELS
        from mmpretrain.registry import DATASETS as CLS_DATASETS
        assert MODELS.get('MPVGViT') is not None
        # each demo reader needs its own toolbox only
        assert DATASETS.get('DemoSegDataset') is not None
        assert CLS_DATASETS.get('DemoCustomDataset') is not None
        assert register_all_modules('mmseg') == ['mmseg']
        try:
            register_all_modules(['mmdet'])
        except ImportError as err:
            print('refused:', err)
    ''')
    assert "registered ['mmpretrain', 'mmseg']" in out
    assert "refused: cannot register into ['mmdet']: not installed" in out


def test_build_model_uses_the_configs_scope_and_refuses_others():
    cfg = Config(dict(default_scope='mmseg', model=dict(
        type='MPVGViT', arch=dict(embed_dims=32, num_layers=2, num_heads=2, patch_size=8,
                                  img_size=16), out_type='featmap')))
    model = build_model(cfg)
    assert type(model).__name__ == 'MPVGViT'
    assert model(torch.zeros(1, 3, 16, 16))[0].shape == (1, 32, 2, 2)
    assert type(build_model(cfg.to_dict())).__name__ == 'MPVGViT'  # a plain dict too
    with pytest.raises(ValueError, match='needs a whole config'):
        build_model(cfg.model)
    cfg.default_scope = 'mmocr'
    with pytest.raises(ValueError, match="default_scope='mmocr'"):
        build_model(cfg)


def test_old_last_ln_pe_key_is_deprecated_not_broken():
    with pytest.warns(FutureWarning, match="'last_ln_pe' is deprecated, use 'last_ln_pos'"):
        old, _ = build_pe_structure('pvg', dict(last_ln_pe=0))
    assert old == build_pe_structure('mpvg')[0]
    with pytest.raises(ValueError, match="both 'last_ln_pe' and 'last_ln_pos'"):
        build_pe_structure('pvg', dict(last_ln_pe=0, last_ln_pos=0))


def test_the_deprecation_is_shown_when_a_config_builds_the_model():
    """Python's default filters show it (a DeprecationWarning raised inside mmengine's
    registry would be hidden)."""
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent('''
        import sys; sys.path.insert(0, sys.argv[1])
        import mpvg_mm
        from mmpretrain.registry import MODELS
        MODELS.build(dict(type='MPVGViT', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                     patch_size=8, img_size=16), pe_mode='pvg', pe_cfg=dict(last_ln_pe=0)))
    '''), ROOT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "FutureWarning: pe_cfg key 'last_ln_pe' is deprecated" in proc.stderr


@pytest.mark.parametrize('switch, value', [
    ('last_ln_pos', 1.0), ('last_ln_pos', '0'), ('last_ln_pos', True),
    ('layerwise_from', '1'), ('hierarchical', 'no'), ('input_pe', 1)])
def test_switch_values_of_the_wrong_type_are_refused(switch, value):
    structure, _ = build_pe_structure('mpvg', {switch: value})
    with pytest.raises(ValueError, match=f'{switch}={value!r} must be'):
        structure.validate(num_layers=4)
