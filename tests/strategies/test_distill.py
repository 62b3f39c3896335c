import pytest
import torch
import torch.nn.functional as F
from helpers import KINDS, run

from hf_transfer.errors import UserError
from hf_transfer.strategies.distill import distillation_loss


def test_loss_matches_a_hand_computation():
    torch.manual_seed(0)
    s, t, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    ce = F.cross_entropy(s, y)
    T, a = 2.0, 0.3
    p_t, p_s = (t / T).softmax(-1), (s / T).softmax(-1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(-1).mean()
    assert distillation_loss(s, t, ce, T, a).item() == pytest.approx(((1 - a) * ce + a * T * T * kl).item(), rel=1e-5)
    assert distillation_loss(s, s, ce, T, a).item() == pytest.approx(((1 - a) * ce).item(), rel=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_student_learns_from_a_trained_teacher(tmp_path, kind, assets):
    teacher_out, _ = run(tmp_path, kind, assets, {"name": "full"}, name="teacher")
    _, metrics = run(tmp_path, kind, assets, {"name": "distill", "distill": {"teacher": str(teacher_out / "model")}},
                     name="student", model={"pretrained": False})
    assert metrics["status"] == "finished" and metrics["strategy"] == "distill"


def test_teacher_with_other_labels_is_refused(tmp_path, assets, tiny_timm):
    with pytest.raises(UserError, match="strategy.distill.teacher: its labels .* are not the data's"):
        run(tmp_path, "timm", assets, {"name": "distill", "distill": {"teacher": str(tiny_timm)}})
