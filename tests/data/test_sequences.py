"""priorlab.data.sequences: sequence and table files, each problem a one-line UserError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from priorlab.data.sequences import load_sequences, load_table
from priorlab.errors import UserError


def test_sequences_npy_and_npz(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 4, 3))
    np.save(tmp_path / "s.npy", x)
    got, labels = load_sequences(tmp_path / "s.npy")
    assert labels is None and got.dtype == torch.float32 and got.shape == (6, 4, 3)
    assert torch.allclose(got, torch.from_numpy(x).float())
    np.savez(tmp_path / "s.npz", x=x, labels=np.array(["a", "b", "a", "b", "c", "c"]))
    got, labels = load_sequences(str(tmp_path / "s.npz"))
    assert labels == ["a", "b", "a", "b", "c", "c"] and got.shape == (6, 4, 3)
    np.savez(tmp_path / "n.npz", x=x.astype(np.float16), labels=np.arange(6))
    assert load_sequences(tmp_path / "n.npz")[1] == ["0", "1", "2", "3", "4", "5"]
    np.savez(tmp_path / "nolabels.npz", x=x)
    assert load_sequences(tmp_path / "nolabels.npz")[1] is None


def test_table_npy_and_csv(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(12.0).reshape(4, 3))
    x, labels = load_table(tmp_path / "t.npy")
    assert x.shape == (4, 3) and labels is None
    (tmp_path / "t.csv").write_text("a,Label,b\n1,cat,2.5\n3,dog,-4e1\n\n5,cat,6\n")
    x, labels = load_table(tmp_path / "t.csv")
    assert labels == ["cat", "dog", "cat"] and x.tolist() == [[1, 2.5], [3, -40], [5, 6]]
    (tmp_path / "plain.csv").write_text("1,2\n3,4\n5,6\n")
    x, labels = load_table(tmp_path / "plain.csv")
    assert labels is None and x.shape == (3, 2)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("ragged.csv", "a,b\n1,2\n3\n", "line 3 has 1 columns; the header has 2 (ragged CSV)"),
        ("text.csv", "a,b\n1,2\n3,x\n", "line 3, column 'b': 'x' is not a number"),
        ("nan.csv", "1,2\n3,nan\n", "line 2 holds NaN or inf"),
        ("empty.csv", "", "is empty"),
        ("header.csv", "a,b\n", "header but no rows"),
        ("labels.csv", "label\ncat\ndog\n", "no numeric columns"),
        ("t.txt", "1,2", "is not a table file"),
    ],
)
def test_bad_tables(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError, match="stimuli: .*" + message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_table(tmp_path / name)
    assert len(str(err.value).splitlines()) == 1


def test_bad_sequence_files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "2d.npy", rng.standard_normal((4, 3)))
    np.savez(tmp_path / "nox.npz", data=rng.standard_normal((4, 3, 2)))
    bad = rng.standard_normal((4, 3, 2))
    bad[2, 1, 0] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    np.save(tmp_path / "obj.npy", np.array([[1], [1, 2]], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "objlabels.npz", x=np.zeros((4, 3, 1)), labels=np.array([None, 1, "a", 2.0], dtype=object))
    np.savez(tmp_path / "short.npz", x=rng.standard_normal((4, 3, 2)), labels=np.arange(3))
    np.save(tmp_path / "text.npy", np.array([[["a"]]]))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    for name, message in [
        ("2d.npy", r"has shape \[4, 3\]; expected \[N, T, F\]"),
        ("nox.npz", r"has no array 'x' \(arrays: data\)"),
        ("inf.npy", r"NaN or inf \(item 2\)"),
        ("obj.npy", "Python objects"),
        ("objlabels.npz", "'labels' holds Python objects"),
        ("short.npz", "one label per item"),
        ("text.npy", "not numbers"),
        ("junk.npy", "not a readable"),
        ("missing.npz", "no such file"),
        ("x.csv", "not a sequences file"),
    ]:
        with pytest.raises(UserError, match=message):
            load_sequences(tmp_path / name)


def test_file_stimuli_subset_order_and_limits(tmp_path):
    from priorlab.data.sequences import file_stimuli

    x = np.arange(10 * 2 * 1, dtype=float).reshape(10, 2, 1)
    labels = np.array(list("bababababa"))
    np.savez(tmp_path / "s.npz", x=x, labels=labels)
    got, lab, description = file_stimuli(f"sequences:{tmp_path / 's.npz'}", n=100)
    assert lab == sorted(labels.tolist()) and got.shape == (10, 2, 1)
    assert got[:, 0, 0].tolist() == [2, 6, 10, 14, 18, 0, 4, 8, 12, 16]  # sorted by label, file order kept within
    assert description.startswith("10 of the 10 sequences") and "2 × 1 per item, labelled" in description
    sub, _, _ = file_stimuli(f"sequences:{tmp_path / 's.npz'}", n=4, seed=3)
    again, _, _ = file_stimuli(f"sequences:{tmp_path / 's.npz'}", n=4, seed=3)
    assert sub.shape == (4, 2, 1) and torch.equal(sub, again)
    np.save(tmp_path / "t.npy", np.zeros((2, 3)))
    with pytest.raises(UserError, match="holds 2 items; an RDM needs at least 3"):
        file_stimuli(f"table:{tmp_path / 't.npy'}", n=10)
    with pytest.raises(UserError, match="expected sequences:"):
        file_stimuli("sequences:", n=10)
