"""HuBERT encoder as a torch.nn tree with the Hugging Face HubertModel state_dict names.

Built from torch.nn building blocks (Conv1d, LayerNorm, GroupNorm, nn.utils.weight_norm with dim=2, and
F.multi_head_attention_forward for attention), independently of the functional hubert.Hubert. Used to write
synthetic HF checkpoints and as the independent check of the functional forward and of the converter.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, s, bias, norm):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride=s, bias=bias)
        if norm == "layer":
            self.layer_norm = nn.LayerNorm(cout, elementwise_affine=True)
        elif norm == "group":
            self.layer_norm = nn.GroupNorm(cout, cout, affine=True)
        self.norm = norm

    def forward(self, x):
        x = self.conv(x)
        if self.norm == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        elif self.norm == "group":
            x = self.layer_norm(x)
        return F.gelu(x)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):  # [B, n, d]
        t = x.transpose(0, 1)
        out, _ = F.multi_head_attention_forward(
            t, t, t, x.shape[-1], self.heads, None,
            torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]), None, None, False, 0.0,
            self.out_proj.weight, self.out_proj.bias, training=False, need_weights=False,
            use_separate_proj_weight=True, q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight)
        return out.transpose(0, 1)


class FeedForward(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.intermediate_dense = nn.Linear(dim, inner)
        self.output_dense = nn.Linear(inner, dim)

    def forward(self, x):
        return self.output_dense(F.gelu(self.intermediate_dense(x)))


class EncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.stable = cfg.stable_layer_norm
        self.attention = Attention(cfg.hidden_size, cfg.num_heads)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = FeedForward(cfg.hidden_size, cfg.intermediate_size)
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        if self.stable:
            x = x + self.attention(self.layer_norm(x))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x))
        return self.final_layer_norm(x + self.feed_forward(x))


class HubertModelHF(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.feature_extractor = nn.Module()
        layers, cin = [], 1
        for i, (cout, k, s) in enumerate(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)):
            norm = "layer" if cfg.feat_extract_norm == "layer" else ("group" if i == 0 else None)
            layers.append(ConvLayer(cin, cout, k, s, cfg.conv_bias, norm))
            cin = cout
        self.feature_extractor.conv_layers = nn.ModuleList(layers)
        self.feature_projection = nn.Module()
        if cfg.feat_proj_layer_norm:
            self.feature_projection.layer_norm = nn.LayerNorm(cin, eps=cfg.layer_norm_eps)
        self.feature_projection.projection = nn.Linear(cin, cfg.hidden_size)
        self.encoder = nn.Module()
        self.encoder.pos_conv_embed = nn.Module()
        conv = nn.Conv1d(cfg.hidden_size, cfg.hidden_size, cfg.pos_conv_kernel, padding=cfg.pos_conv_kernel // 2,
                         groups=cfg.pos_conv_groups)
        self.encoder.pos_conv_embed.conv = nn.utils.weight_norm(conv, name="weight", dim=2)
        self.encoder.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.encoder.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.masked_spec_embed = nn.Parameter(torch.rand(cfg.hidden_size))

    @torch.no_grad()
    def forward(self, input_values):  # [B, N] normalised samples → last_hidden_state [B, frames, H]
        x = input_values[:, None, :]
        for layer in self.feature_extractor.conv_layers:
            x = layer(x)
        h = x.transpose(1, 2)
        if self.cfg.feat_proj_layer_norm:
            h = self.feature_projection.layer_norm(h)
        h = self.feature_projection.projection(h)
        pos = self.encoder.pos_conv_embed.conv(h.transpose(1, 2))
        if self.cfg.pos_conv_kernel % 2 == 0:
            pos = pos[:, :, :-1]
        h = h + F.gelu(pos).transpose(1, 2)
        if not self.cfg.stable_layer_norm:
            h = self.encoder.layer_norm(h)
        for layer in self.encoder.layers:
            h = layer(h)
        if self.cfg.stable_layer_norm:
            h = self.encoder.layer_norm(h)
        return h
