"""Run settings: one declaration each, named configurations, and old config.json files."""

import dataclasses
import json
from pathlib import Path

import pytest

import eqxnqs
from eqxnqs._workflow._migration import BEFORE_0_2
from eqxnqs._workflow._run_config import GROUPS
from eqxnqs._workflow._settings import option_name
from eqxnqs._workflow._system_configs import SYSTEMS

DATA = Path(__file__).parent / "data"


def test_run_config_is_its_declared_default_and_the_ring_s_named_configuration():
    config = eqxnqs.RunConfig()
    assert config == eqxnqs.configure("helium")
    for group in (config.system, *(getattr(config, name) for name in GROUPS)):
        for field in dataclasses.fields(group):
            assert getattr(group, field.name) == field.default, field.name
            assert field.metadata["help"], field.name


def test_every_setting_has_one_option_name_and_one_help_text():
    names = [option_name(f) for group in GROUPS.values() for f in dataclasses.fields(group)]
    assert len(names) == len(set(names))
    for system in SYSTEMS.values():
        own = set(system.options())
        assert not own & set(names), system.name
    assert "seed" not in names


def test_named_configurations_per_system_and_model():
    cusp = {name: eqxnqs.configure(name).model.cusp_exponent for name in SYSTEMS}
    assert cusp == {
        "helium": 5,
        "helium-2d": 3,
        "helium-3d": 5,
        "gaussian": None,
        "calogero-sutherland": 1,
    }
    # helium-2d's exponent 3 is its DeepSet's: the MPNNs keep McMillan's 5, and it yields
    assert eqxnqs.configure("helium-2d", model="mpnn").model.cusp_exponent == 5
    assert eqxnqs.configure("helium-2d", model="edge-mpnn").model.cusp_exponent == 5
    assert eqxnqs.configure("helium-2d", cusp_exponent=5).model.cusp_exponent == 5
    assert eqxnqs.configure("gaussian", cusp_exponent=3).model.cusp_exponent == 3
    # SR: cautious for the MPNN and for helium-3d, where the DeepSet blew up; helium-2d's
    # DeepSet keeps the small shift, in a trust region of 20
    sr = {
        (system, model): (config.optimizer.diag_shift, config.optimizer.max_norm)
        for system in ("helium", "helium-2d", "helium-3d")
        for model in ("deepset", "mpnn")
        for config in [eqxnqs.configure(system, model=model)]
    }
    assert sr == {
        ("helium", "deepset"): (0.01, 100.0),
        ("helium", "mpnn"): (0.1, 10.0),
        ("helium-2d", "deepset"): (0.01, 20.0),
        ("helium-2d", "mpnn"): (0.1, 10.0),
        ("helium-3d", "deepset"): (0.1, 10.0),
        ("helium-3d", "mpnn"): (0.1, 10.0),
    }
    explicit = eqxnqs.configure("helium-3d", diag_shift=0.02, max_norm=50.0).optimizer
    assert (explicit.diag_shift, explicit.max_norm) == (0.02, 50.0)
    # without SR: no clipping and no trust region
    vmc = eqxnqs.configure(driver="vmc").optimizer
    assert (vmc.clip_local_energy, vmc.max_norm) == (None, None)
    # g1 and n(k): the MPNN pays a forward pass per displaced particle, so fewer samples
    assert eqxnqs.RunConfig().g1_samples == 1024
    assert eqxnqs.configure(model="mpnn").g1_samples == 64
    assert eqxnqs.configure(model="mpnn", n_chains=128, n_samples=2048).g1_samples == 128
    assert eqxnqs.configure(backflow=True).g1_samples == 64
    # helium-3d: the backflow joins after three quarters of the run, when the learning
    # rate and shift have decayed; it follows a given n_iter, and leaves with the backflow
    phases = {
        settings: (c.model.backflow, c.model.backflow_start, c.optimizer.decay_iter)
        for settings in ((), (("n_iter", 40),), (("backflow", False),), (("model", "mpnn"),))
        for c in [eqxnqs.configure("helium-3d", **dict(settings))]
    }
    assert phases == {
        (): (True, 120, 120),
        (("n_iter", 40),): (True, 30, 30),
        (("backflow", False),): (False, 0, None),
        (("model", "mpnn"),): (False, 0, None),
    }
    assert eqxnqs.configure("helium-3d", n_iter=1).model.backflow_start == 0
    # helium-2d: the backflow joins after two thirds of the run, and the learning rate and
    # shift step there to a fifth and to three times theirs
    phases = {
        settings: (
            c.model.backflow_start,
            c.optimizer.n_iter,
            (c.optimizer.decay_start, c.optimizer.decay_iter),
            (c.optimizer.learning_rate_end, c.optimizer.diag_shift_end),
        )
        for settings in ((), (("n_iter", 60),), (("backflow", False),), (("model", "mpnn"),))
        for c in [eqxnqs.configure("helium-2d", **dict(settings))]
    }
    assert phases == {
        (): (120, 180, (120, 120), (0.002, 0.03)),
        (("n_iter", 60),): (40, 60, (40, 40), (0.002, 0.03)),
        (("backflow", False),): (0, 120, (0, None), (None, None)),
        (("model", "mpnn"),): (0, 700, (0, 400), (0.002, 0.003)),
    }
    # helium-2d's MPNN: Linteau et al.'s network and samples, no triplet factor, and its
    # own decay, which follows a given n_iter; the edge-MPNN keeps the system's settings
    mpnn = eqxnqs.configure("helium-2d", model="mpnn", n_iter=70)
    assert (mpnn.model.mpnn_features, mpnn.model.mpnn_layers, mpnn.model.mpnn_heads) == (8, 4, 1)
    assert (mpnn.sampler.n_chains, mpnn.sampler.n_samples) == (16, 512)
    assert (mpnn.sampler.surrogate, mpnn.model.three_body) == ("fast-terms", False)
    assert (mpnn.optimizer.decay_iter, mpnn.optimizer.diag_shift_end) == (40, 0.003)
    assert eqxnqs.configure("helium-2d", model="mpnn", three_body=True).model.three_body
    gaussian = eqxnqs.configure("helium-2d", model="mpnn", sampler="gaussian").sampler
    assert (gaussian.kind, gaussian.surrogate, gaussian.n_samples) == ("gaussian", "own", 512)
    edge = eqxnqs.configure("helium-2d", model="edge-mpnn")
    assert (edge.model.three_body, edge.optimizer.n_iter) == (True, 120)
    constant = eqxnqs.configure("helium-2d", learning_rate_end=None, diag_shift_end=None)
    assert constant.model.backflow_start == 120
    assert (constant.optimizer.decay_start, constant.optimizer.decay_iter) == (0, None)
    # a single width repeats
    model = eqxnqs.configure(layers_phi=3, features_phi=[8], layers_rho=2, features_rho=(4,)).model
    assert (model.features_phi, model.features_rho) == ((8, 8, 8), (4, 1))


def test_bad_settings_are_one_line_errors_named_by_their_option():
    cases = [
        (dict(n_particles=1), r"^n_particles must be an integer >= 2; got 1\.$"),
        (dict(v0=float("nan")), "system helium has no setting v0"),
        (dict(colour="red"), "^unknown setting colour.$"),
        (dict(driver="vmc", max_norm=100.0), "max_norm needs driver vmc_sr"),
        (dict(cusp_exponent="five"), "cusp_exponent must be a positive integer or None"),
        (dict(g1_samples=0), "g1_samples must be a positive integer or None"),
        (dict(n_chains=64, g1_samples=32), r"g1_samples \(32\) must be at least n_chains"),
        (dict(target_acceptance=1.0), r"target_acceptance must be in \(0, 1\) or None"),
        (dict(features_rho=(8, 8, 2)), "the last entry of features_rho must be 1"),
        (dict(backflow_start=5), "^backflow_start needs backflow true.$"),
        (dict(backflow=True, backflow_start=100), r"backflow_start \(100\) must be below n_iter"),
        (dict(decay_iter=5), "^decay_iter needs learning_rate_end or diag_shift_end.$"),
        (dict(decay_start=5), "^decay_start needs learning_rate_end or diag_shift_end.$"),
        (
            dict(learning_rate_end=1e-3, decay_start=60, decay_iter=50),
            r"^decay_start \(60\) must be at most decay_iter \(50\)\.$",
        ),
        (
            dict(sampler="gaussian", surrogate="fast-terms"),
            "^surrogate fast-terms needs sampler single-particle.$",
        ),
        (
            dict(sampler="gaussian", segment_moves=10),
            "^segment_moves needs sampler single-particle.$",
        ),
        (dict(segment_moves=0), "segment_moves must be"),
        (dict(learning_rate_end=1e-3, decay_iter=500), r"decay_iter \(500\) must be at most"),
        (dict(momentum_start=5), "^momentum_start needs momentum.$"),
        (
            dict(use_ntk=True, momentum=0.9, momentum_start=101),
            r"^momentum_start \(101\) must be at most n_iter \(100\)\.$",
        ),
    ]
    for settings, message in cases:
        with pytest.raises(eqxnqs.ConfigError, match=message):
            eqxnqs.configure(**settings)
    with pytest.raises(eqxnqs.ConfigError, match="v0 must be a positive number; got nan"):
        eqxnqs.GaussianBosonsConfig(v0=float("nan"))
    with pytest.raises(eqxnqs.ConfigError, match="unknown system 'argon'"):
        eqxnqs.configure("argon")
    with pytest.raises(eqxnqs.ConfigError, match="model must be a ModelConfig"):
        eqxnqs.RunConfig(model="mpnn")


def test_a_system_holds_only_its_own_settings():
    gaussian = eqxnqs.configure("gaussian", dim=2, box_length=3.0, n_particles=4)
    assert gaussian.system == eqxnqs.GaussianBosonsConfig(
        n_particles=4, dim=2, box_length=3.0, v0=2.0, sigma=0.5
    )
    system = gaussian.build_system()
    assert (system.name, system.box, system.n_particles) == ("gaussian", (3.0, 3.0), 4)
    written = json.loads(eqxnqs.configure("helium-2d").to_json())["system"]
    assert written == {
        "name": "helium-2d",
        "n_particles": 10,
        "density": 0.04344,
        "cell": "square",
        "potential": "hfdhe2",
        "truncation": "plain",
    }


def test_differences_name_the_settings_that_block_a_resume():
    helium = eqxnqs.RunConfig()
    assert helium.differences(eqxnqs.configure(n_iter=500, g1_points=4)) == []
    assert helium.differences(eqxnqs.configure(density=0.2)) == ["density"]
    assert helium.differences(eqxnqs.configure("gaussian")) == ["system"]
    gaussian = eqxnqs.configure("gaussian")
    assert gaussian.differences(eqxnqs.configure("gaussian", v0=3.0, seed=2)) == ["v0", "seed"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_config_json_round_trips(tmp_path, system):
    config = eqxnqs.configure(system, model="mpnn", n_iter=7, features_phi=(8, 4))
    path = tmp_path / "config.json"
    path.write_text(config.to_json())
    assert eqxnqs.RunConfig.from_json_file(path) == config


@pytest.mark.parametrize(
    "name, expected",
    [
        # eqxnqs 0.2.0: every setting flat, every system's included
        (
            "config_0.2.0_helium-3d.json",
            # (written before helium-3d's schedules: the run keeps its constant ones)
            eqxnqs.configure(
                "helium-3d",
                n_particles=32,
                model="mpnn",
                n_iter=50,
                g1_samples=64,
                learning_rate_end=None,
                diag_shift_end=None,
            ),
        ),
        # a development version before the SR schedules, MinSR and SPRING (and before
        # helium-2d's trust region of 20, its backflow phase and its cusp exponent 3: the
        # run keeps its 100, its backflow from the start, its constant rates and its 5)
        (
            "config_dev_helium-2d.json",
            eqxnqs.configure(
                "helium-2d",
                n_particles=30,
                max_norm=100.0,
                cusp_exponent=5,
                density=0.05,
                backflow=True,
                backflow_start=0,
                learning_rate_end=None,
                diag_shift_end=None,
                decay_start=0,
                decay_iter=None,
                init_from="/work/runs/he2d_050_jt_s3",
                n_iter=60,
                seed=3,
                final_samples=16384,
                g1_samples=1024,
            ),
        ),
        # the version of the 0.1.0 changelog: settings added later take their 0.1.0
        # values, and the gaussian run had resolved its cusp to 5
        (
            "config_5e6a368_gaussian.json",
            eqxnqs.configure(
                "gaussian",
                n_particles=4,
                dim=2,
                v0=3.0,
                cusp_exponent=5,
                final_samples=16384,
                max_norm=None,
                positive_cusp=False,
                input_scale=1.0,
                target_acceptance=None,
            ),
        ),
    ],
)
def test_config_files_of_earlier_versions_resume(tmp_path, name, expected):
    config = eqxnqs.RunConfig.from_json_file(DATA / name)
    assert config == expected
    assert config.differences(expected) == []


def test_a_0_1_config_file_reads_with_the_settings_it_ran_with(tmp_path):
    data = json.loads((DATA / "config_0.2.0_helium-3d.json").read_text())
    for name in BEFORE_0_2:
        data.pop(name)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    config = eqxnqs.RunConfig.from_json_file(path).flat()
    assert {name: config[name] for name in BEFORE_0_2} == BEFORE_0_2


def test_a_config_file_of_a_development_version_reads_or_is_refused_in_one_line(tmp_path):
    data = json.loads((DATA / "config_0.2.0_helium-3d.json").read_text())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**data, "neighbourhood": False, "neighbourhood_channels": 4}))
    assert eqxnqs.RunConfig.from_json_file(path) == eqxnqs.RunConfig.from_dict(data)
    path.write_text(json.dumps({**data, "neighbourhood": True}))
    with pytest.raises(ValueError, match="used neighbourhood=True, a setting this eqxnqs no"):
        eqxnqs.RunConfig.from_json_file(path)
    path.write_text(json.dumps({**data, "colour": "red"}))
    with pytest.raises(ValueError, match="^settings this eqxnqs does not know: colour$"):
        eqxnqs.RunConfig.from_json_file(path)
    path.write_text(json.dumps({**eqxnqs.RunConfig().to_dict(), "format": 3}))
    with pytest.raises(ValueError, match="config.json has format 3; this eqxnqs reads 2"):
        eqxnqs.RunConfig.from_json_file(path)
