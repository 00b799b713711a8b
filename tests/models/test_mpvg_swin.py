"""MPVGSwin against mmpretrain's Swin (same weights), the PE equations written out here,
the paper's Table 1 parameter counts and its contract (errors, loading, freezing)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.models.backbones import SwinTransformer
from mmpretrain.models.utils import resize_pos_embed

from mpvg_mm.models import LayerwisePositionEmbedding, MPVGSwin, PEStructure

pytestmark = pytest.mark.usefixtures('single_thread')
PRESETS = ['default', 'lape', 'pvg', 'mpvg']
# a small Swin: 16x16 stage-1 grid (32px input, 2px patches), windows of 2, 4 stages
TINY = dict(arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[2, 2, 4, 4]),
            img_size=32, patch_size=2, window_size=2, drop_path_rate=0.0)


def _tiny(**kwargs):
    return MPVGSwin(**dict(TINY, **kwargs)).eval()


def _peer(**kwargs):
    """mmpretrain's SwinTransformer with the APE on, the same small arch."""
    peer = SwinTransformer(**dict(TINY, use_abs_pos_embed=True, **kwargs))
    peer.eval()  # mmpretrain's train() returns None
    return peer


# --------------------------------------------------------------------------- Default = peer
def test_default_is_mmpretrain_swin_t_with_ape():
    """Swin-T at 224: strict load of mmpretrain's state dict, same features (fp32)."""
    torch.manual_seed(0)
    peer = SwinTransformer(arch='tiny', use_abs_pos_embed=True, drop_path_rate=0.0)
    peer.eval()  # mmpretrain's train() returns None
    with torch.no_grad():
        peer.absolute_pos_embed.normal_(0, 0.02)
    model = MPVGSwin(arch='tiny', pe_mode='default', drop_path_rate=0.0).eval()
    model.load_state_dict(peer.state_dict(), strict=True)
    img = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        diff = (model(img)[0] - peer(img)[0]).abs().max().item()
    assert diff <= 1e-5, diff


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('size', [(32, 32), (32, 48), (30, 45)],
                         ids=['square', 'non-square', 'padded'])
def test_default_matches_peer_at_any_size(size, fused_attn, randomize):
    """Non-square and padded inputs (to the patch and to the windows), every stage's
    output through its norm, with the fused and mmpretrain's explicit window attention."""
    kw = dict(out_indices=(0, 1, 2, 3), pad_small_map=True)
    peer = randomize(_peer(**kw), scale=0.1)
    model = _tiny(pe_mode='default', fused_attn=fused_attn, **kw)
    model.load_state_dict(peer.state_dict(), strict=True)
    img = torch.randn(2, 3, *size)
    with torch.no_grad():
        outs, refs = model(img), peer(img)
    assert len(outs) == 4
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape
        assert (out - ref).abs().max().item() <= 1e-5


# --------------------------------------------------------------------------- equations
def _ln(x, sd, key, eps=1e-6):
    return F.layer_norm(x, x.shape[-1:], sd[key + '.weight'], sd[key + '.bias'], eps)


def _reference(model, peer, img, *, input_pe, lw_from, hier, last_k):
    """The structures written out: pos_l = LN'_l(pos_{l-1}) with the tokens' PatchMerging
    between stages (or LN'_l(pos_0 merged to l's stage)); block l takes
    x + SW-MSA(LN1(x) + pos_l); MPVG adds LN''(P) after the last norm, P = pos_k merged
    to the last stage. mmpretrain's modules (``peer``, same weights) do the attention,
    MLP and merging; the PE terms are computed here from ``model``'s state dict."""
    sd = model.state_dict()
    x, grid = peer.patch_embed(img)
    pos0 = resize_pos_embed(peer.absolute_pos_embed, peer.patch_resolution, grid, 'bicubic', 0)
    if input_pe:
        x = x + pos0
    depths = [len(stage.blocks) for stage in peer.stages]
    starts = [sum(depths[:s]) for s in range(len(depths))]
    pe, base, pe_grid = pos0, pos0, grid
    pos, carry = {}, ({0: pos0} if last_k == 0 else {})
    for s, stage in enumerate(peer.stages):
        if s > 0:  # the merging of stage s-1, applied to each PE that goes on
            merge = peer.stages[s - 1].downsample
            carry = {k: merge(v, pe_grid)[0] for k, v in carry.items()}
            base = merge(base, pe_grid)[0]
            pe, pe_grid = merge(pe, pe_grid)
        for j in range(depths[s]):
            l = starts[s] + j
            if lw_from is not None and l >= lw_from:
                pos[l] = _ln(pe if hier else base, sd, f'pe.layer_norms.{l}')
                if hier:
                    pe = pos[l]
                if last_k == l and l > 0:
                    carry[l] = pos[l]
    for s, stage in enumerate(peer.stages):
        for j, block in enumerate(stage.blocks):
            h = block.norm1(x)
            if starts[s] + j in pos:
                h = h + pos[starts[s] + j]
            x = x + block.attn(h, grid)
            x = block.ffn(block.norm2(x), identity=x)
        if s < len(peer.stages) - 1:
            x, grid = stage.downsample(x, grid)
    y = peer.norm3(x)
    if last_k is not None:
        y = y + _ln(carry[last_k], sd, 'pe.last_norm')
    return y.mean(1)


CASES = {
    # name: (MPVGSwin kwargs, reference switches); blocks 0..7 in stages of 2
    'default': (dict(pe_mode='default'),
                dict(input_pe=True, lw_from=None, hier=True, last_k=None)),
    'lape': (dict(pe_mode='lape'), dict(input_pe=False, lw_from=0, hier=True, last_k=None)),
    'pvg': (dict(pe_mode='pvg'), dict(input_pe=True, lw_from=0, hier=True, last_k=None)),
    'mpvg': (dict(pe_mode='mpvg'), dict(input_pe=True, lw_from=0, hier=True, last_k=0)),
    'mpvg_non_hierarchical': (dict(pe_mode='mpvg', pe_cfg=dict(hierarchical=False)),
                              dict(input_pe=True, lw_from=0, hier=False, last_k=0)),
    'mpvg_last_ln_chain_into_stage4': (dict(pe_mode='mpvg', pe_cfg=dict(last_ln_pos=6)),
                                       dict(input_pe=True, lw_from=0, hier=True, last_k=6)),
    'mpvg_last_ln_pos3': (dict(pe_mode='mpvg', pe_cfg=dict(last_ln_pos=3)),
                          dict(input_pe=True, lw_from=0, hier=True, last_k=3)),
    'pvg_from_stage2': (dict(pe_mode='pvg', pe_cfg=dict(layerwise_from=3)),
                        dict(input_pe=True, lw_from=3, hier=True, last_k=None)),
}


@pytest.mark.parametrize('size', [(32, 32), (30, 44)], ids=['224-like', 'padded'])
@pytest.mark.parametrize('case', list(CASES))
def test_structures_match_the_equations(case, size, randomize):
    kwargs, switches = CASES[case]
    model = randomize(_tiny(out_type='avg_featmap', pad_small_map=True, **kwargs), seed=1)
    peer = _peer(pad_small_map=True)
    peer.load_state_dict(model.state_dict(), strict=False)
    img = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = model(img)[0]
        ref = _reference(model, peer, img, **switches)
    assert out.shape == (2, 128)
    assert (out - ref).abs().max().item() <= 1e-4 * max(1.0, ref.abs().max().item())


# --------------------------------------------------------------------------- Table 1 counts
def test_parameter_counts_match_table_1():
    """Swin-Ti with a 1000-class head. The paper prints 28.589 / 28.599 / 28.598 / 28.599 M
    (floored): Default, PVG and MPVG agree; LaPE has exactly PVG's 12 LN' (8,832 parameters,
    28.598 M floored) and the paper's 28.599 for it is one unit off."""
    head = 768 * 1000 + 1000
    counts = {mode: sum(p.numel() for p in MPVGSwin(arch='tiny', pe_mode=mode).parameters())
              + head for mode in PRESETS}
    assert counts == dict(default=28_589_410, lape=28_598_242, pvg=28_598_242,
                          mpvg=28_599_778)
    peer = SwinTransformer(arch='tiny', use_abs_pos_embed=True)
    assert sum(p.numel() for p in peer.parameters()) + head == counts['default']


# --------------------------------------------------------------------------- the PE chain
@pytest.mark.parametrize('mode', PRESETS)
def test_every_pe_parameter_gets_a_gradient(mode, randomize):
    model = randomize(_tiny(pe_mode=mode, out_type='avg_featmap')).train()
    model(torch.randn(2, 3, 32, 32))[0].square().sum().backward()
    pe_params = {n: p for n, p in model.named_parameters()
                 if n == 'absolute_pos_embed' or n.startswith('pe.')}
    expected = {'default': 2, 'lape': 2 + 16, 'pvg': 2 + 16, 'mpvg': 2 + 18}[mode] - 1
    assert len(pe_params) == expected  # pos_0 + LN' (8 blocks) [+ LN'']
    for name, p in pe_params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('mode,merges', [('default', 0), ('lape', 3), ('pvg', 3),
                                         ('mpvg', 6)])
def test_pe_chain_runs_once_per_pass(mode, merges):
    """The batch-free PE goes through each stage's PatchMerging once per forward pass (the
    chain, plus pos_0 on its own way to LN'' in MPVG), and each LN' runs once, for a
    batch of 3."""
    model = _tiny(pe_mode=mode)
    pe_calls, ln_calls = [], []
    for stage in model.stages[:-1]:
        stage.downsample.register_forward_hook(
            lambda m, args, out: pe_calls.append(1) if args[0].shape[0] == 1 else None)
    for norm in model.pe.layer_norms.values():
        norm.register_forward_hook(lambda m, args, out: ln_calls.append(args[0].shape[0]))
    with torch.no_grad():
        model(torch.randn(3, 3, 32, 32))
    assert len(pe_calls) == merges
    assert ln_calls == ([] if mode == 'default' else [1] * 8)


def test_presets_include_block_0_in_swin():
    """The paper's Swin exception: PVG and MPVG take the layer-wise PE from block 0."""
    for mode in ('lape', 'pvg', 'mpvg'):
        assert sorted(_tiny(pe_mode=mode).pe.layer_norms) == [str(i) for i in range(8)]
    assert _tiny(pe_mode='lape').pe.structure.input_pe is False
    assert _tiny(pe_mode='pvg').pe.structure.input_pe is True
    widths = [n.normalized_shape[0] for n in _tiny(pe_mode='mpvg').pe.layer_norms.values()]
    assert widths == [16, 16, 32, 32, 64, 64, 128, 128]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize('kwargs,match', [
    (dict(pe_mode='swin'), 'unknown pe_mode'),
    (dict(pe_cfg=dict(foo=1)), 'unknown pe_cfg keys'),
    (dict(pe_cfg=dict(layerwise_from=8)), 'outside the blocks'),
    (dict(pe_mode='mpvg', out_indices=(0, 1, 2)), 'Last LN'),
    (dict(out_indices=(4, )), 'out_indices'),
    (dict(out_type='cls_token'), 'unknown out_type'),
    (dict(img_size=33), 'multiple of the patch size'),
    (dict(pe_mode='default', pe_cfg=dict(input_pe=False)), 'uses the position embedding'),
    # arch dicts: one ValueError naming the key (review of issue 15)
    (dict(arch=dict(embed_dims=16, depths=[1, 1, 1], num_heads=[1, 2, 2, 4])),
     r'num_heads=.*one per stage.*3 stages'),
    (dict(arch=dict(embed_dims=16, depths=[1, 1, 1], num_heads=[1, 2, 2, 4]),
          out_indices=(0, 1, 2)), r'num_heads=.*one per stage'),
    (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2])),
     r'num_heads=.*one per stage'),
    (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[3, 2, 2, 4])),
     r'num_heads\[0\]=3 does not divide'),
    (dict(arch=dict(embed_dims=0, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])),
     'embed_dims=0'),
    (dict(arch=dict(embed_dims=16, depths=[1, 0, 1, 1], num_heads=[1, 2, 2, 4])), 'depths='),
    (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1])), 'exactly the keys'),
    (dict(arch='tinyy'), "arch='tinyy'"),
    # scalar arguments
    (dict(frozen_stages=4), r'frozen_stages=4 .*-1\.\.3'),
    (dict(window_size=0), 'window_size=0'),
    (dict(out_indices='3'), "out_indices='3'"),
    (dict(pe_cfg='mpvg'), "pe_cfg='mpvg'.*pe_mode"),
    (dict(pretrained_img_size=63), 'pretrained_img_size=.*multiple of the patch size'),
    (dict(fused_attn='yes'), 'fused_attn'),
    (dict(drop_path_rate=1.5), r'drop_path_rate=1.5 .*\[0, 1\)'),
])
def test_bad_configurations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _tiny(**kwargs)


@pytest.mark.parametrize('shape', [(3, 32, 32), (0, 3, 32, 32), (1, 1, 32, 32)])
def test_bad_inputs_are_refused(shape):
    with pytest.raises(ValueError, match=r'takes images \(B, 3, H, W\) with B >= 1'):
        _tiny()(torch.zeros(shape))


def test_staged_chain_checks_its_stages_and_needs_the_transition():
    structure = PEStructure(layerwise_from=0)
    with pytest.raises(ValueError, match='stage_depths'):
        LayerwisePositionEmbedding(structure, 4, (8, 16), (2, 3))
    with pytest.raises(ValueError, match='stage_depths'):
        LayerwisePositionEmbedding(structure, 4, (8, 16, 32), (2, 2))
    staged = LayerwisePositionEmbedding(structure, 4, (8, 16), (2, 2))
    with pytest.raises(ValueError, match='transition'):
        staged(torch.zeros(1, 4, 8))
    # Default needs no transition: nothing crosses a stage
    LayerwisePositionEmbedding(PEStructure(), 4, (8, 16), (2, 2))(torch.zeros(1, 4, 8))


# --------------------------------------------------------------------------- loading
def test_checkpoint_without_ape_loads_into_default_with_zero_pe(monkeypatch, randomize):
    peer = randomize(SwinTransformer(**dict(TINY, use_abs_pos_embed=False)), scale=0.1)
    peer.eval()
    model = _tiny(pe_mode='default')
    warnings = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'warning', warnings.append)
    model.load_state_dict(peer.state_dict(), strict=True)
    assert any('absolute_pos_embed' in w and 'zeros' in w for w in warnings)
    assert model.absolute_pos_embed.abs().max() == 0
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model(img)[0] - peer(img)[0]).abs().max() <= 1e-5


def test_pe_is_resampled_on_load_from_the_recorded_grid(randomize):
    src = randomize(_tiny(pe_mode='mpvg'))
    dst = _tiny(pe_mode='mpvg', img_size=(48, 40))
    dst.load_state_dict(src.state_dict(), strict=True)
    expected = resize_pos_embed(src.absolute_pos_embed, (16, 16), (24, 20), 'bicubic', 0)
    assert torch.allclose(dst.absolute_pos_embed, expected, atol=1e-6)
    assert dst.pos_embed_grid.tolist() == [24, 20]


def test_checkpoint_of_another_size_without_grid_needs_pretrained_img_size():
    peer = _peer(img_size=48)  # 24x24 rows, no recorded grid (mmpretrain)
    with pytest.raises(ValueError, match='pretrained_img_size'):
        _tiny().load_state_dict(peer.state_dict())
    model = _tiny(pe_mode='default', pretrained_img_size=48)
    model.load_state_dict(peer.state_dict())
    expected = resize_pos_embed(peer.absolute_pos_embed, (24, 24), (16, 16), 'bicubic', 0)
    assert torch.allclose(model.absolute_pos_embed, expected, atol=1e-6)


# --------------------------------------------------------------------------- training options
def test_frozen_stages_freeze_pe_with_their_stage():
    model = _tiny(pe_mode='mpvg', frozen_stages=1).train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert 'absolute_pos_embed' in frozen
    assert {f'pe.layer_norms.{i}.weight' for i in range(4)} <= frozen
    assert not {f'pe.layer_norms.{i}.weight' for i in range(4, 8)} & frozen
    assert 'pe.last_norm.weight' not in frozen
    assert all(n.startswith(('patch_embed', 'stages.0', 'stages.1', 'absolute', 'pe.'))
               for n in frozen)
    all_frozen = _tiny(pe_mode='mpvg', frozen_stages=3).train()
    assert not all_frozen.pe.last_norm.weight.requires_grad


def test_with_cp_gives_the_same_output_and_gradients(randomize):
    model = randomize(_tiny(pe_mode='mpvg')).train()
    img = torch.randn(2, 3, 32, 32)
    grads = []
    for with_cp in (False, True):
        model.with_cp = with_cp
        model.zero_grad()
        model(img)[0].square().sum().backward()
        grads.append(model.pe.layer_norms['0'].weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_layer_depths_put_ln_prime_with_its_block():
    model = _tiny(pe_mode='mpvg')
    assert model.get_layer_depth('backbone.absolute_pos_embed', 'backbone.') == (0, 10)
    assert model.get_layer_depth('backbone.pe.layer_norms.3.weight', 'backbone.') == \
        model.get_layer_depth('backbone.stages.1.blocks.1.norm1.weight', 'backbone.') == (4, 10)
    assert model.get_layer_depth('backbone.pe.last_norm.bias', 'backbone.') == (9, 10)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_registered_in_every_toolbox(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    assert registry.get('MPVGSwin') is MPVGSwin


# --------------------------------------------------------------------------- window resize
def test_relative_position_bias_is_resized_in_torch_to_another_window(randomize):
    """A window-4 checkpoint into window 2 (mmpretrain's hook calls SciPy's removed
    ``interp2d``): each head's 7x7 table -> 3x3 by bicubic ``F.interpolate``
    (``align_corners=False``, timm's simple resize), strict; the index is the model's."""
    src = randomize(_tiny(window_size=4, pe_mode='mpvg'))
    dst = _tiny(window_size=2, pe_mode='mpvg')
    dst.load_state_dict(src.state_dict(), strict=True)
    for name, module in src.named_modules():
        if hasattr(module, 'relative_position_bias_table') and 'w_msa' in name:
            table = module.relative_position_bias_table.detach()  # (49, nH)
            heads = table.shape[1]
            want = F.interpolate(table.t().reshape(1, heads, 7, 7), size=(3, 3),
                                 mode='bicubic', align_corners=False).reshape(heads, 9).t()
            got = dict(dst.named_modules())[name]
            torch.testing.assert_close(got.relative_position_bias_table, want)
            assert got.relative_position_index.max() == 8
    # the resized model runs
    with torch.no_grad():
        assert dst(torch.randn(1, 3, 32, 32))[0].shape == (1, 16 * 8, 2, 2)


def test_relative_position_bias_of_the_same_window_loads_unchanged(randomize):
    src = randomize(_tiny())
    dst = _tiny()
    dst.load_state_dict(src.state_dict(), strict=True)
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        if 'relative_position' in name:
            assert torch.equal(a, b), name


# --------------------------------------------------------------------------- checkpoint layout
def _classifier_ckpt(path, backbone):
    sd = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    sd['head.fc.weight'] = torch.zeros(10, 128)
    torch.save(dict(state_dict=sd), path)
    return str(path)


def _pretrained(checkpoint, **kwargs):
    model = _tiny(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, **kwargs))
    model.init_weights()
    return model


def test_classifier_checkpoint_loads_with_prefix(tmp_path, randomize):
    src = randomize(_tiny())
    model = _pretrained(_classifier_ckpt(tmp_path / 'cls.pth', src), prefix='backbone.')
    for (name, a), b in zip(src.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_classifier_checkpoint_without_prefix_is_refused(tmp_path, randomize):
    path = _classifier_ckpt(tmp_path / 'cls.pth', randomize(_tiny()))
    with pytest.raises(ValueError, match=r"places 0 of MPVGSwin's .* under 'backbone.'.*"
                       r"prefix='backbone.'"):
        _pretrained(path)


def test_vit_checkpoint_is_refused(tmp_path):
    from mmpretrain.models.backbones import VisionTransformer
    vit = VisionTransformer(arch=dict(embed_dims=16, num_layers=2, num_heads=2,
                                      feedforward_channels=32), img_size=32, patch_size=4)
    torch.save(vit.state_dict(), tmp_path / 'vit.pth')
    with pytest.raises(ValueError, match='looks like a ViT checkpoint.*needs a Swin checkpoint'):
        _pretrained(str(tmp_path / 'vit.pth'))


def test_official_swin_checkpoint_is_refused_naming_the_converter():
    sd = {'patch_embed.proj.weight': torch.zeros(16, 3, 2, 2),
          'layers.0.blocks.0.attn.qkv.weight': torch.zeros(48, 16)}
    with pytest.raises(ValueError, match='official .*OpenMMLab Swin names.*swin2mmseg.py'):
        _tiny().load_state_dict(sd, strict=False)


def test_swin_of_another_width_is_refused():
    wide = MPVGSwin(**dict(TINY, arch=dict(embed_dims=32, depths=[2, 2, 2, 2],
                                           num_heads=[2, 2, 4, 4])))
    with pytest.raises(ValueError, match='a Swin checkpoint of this arch'):
        _tiny().load_state_dict(wide.state_dict(), strict=False)


def test_wrapped_training_file_is_refused_by_the_shared_check():
    """The foreign-checkpoint check shared with MPVGViT: a {'model': ...} training file
    (the official Swin's), which mmengine does not unwrap, is named as such."""
    sd = {'model': _tiny().state_dict()}
    with pytest.raises(ValueError, match=r"\{'model': \.\.\.\}.*ckpt\['model'\].*swin2mmseg"):
        _tiny().load_state_dict(sd, strict=False)
