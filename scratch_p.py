import time, numpy as np, tinygrad_lstm as tl
from tinygrad_lstm import optim
import cProfile, pstats
m = tl.nn.LSTM(3, 5, num_layers=2, bidirectional=True); head = tl.nn.Linear(10, 2)
x = tl.Tensor(np.random.randn(6,3,3)); y = np.random.randn(6,3,2)
ps = m.parameters()+head.parameters()
opt = optim.Adam(ps, lr=0.02)
def run():
    for _ in range(50):
        opt.zero_grad(); out,_ = m(x); l = tl.nn.mse_loss(head(out), y); l.backward(); optim.clip_grad_norm_(ps, 0.5); opt.step()
t=time.process_time(); run(); print("ours", time.process_time()-t)
cProfile.run("run()", "/tmp/prof")
pstats.Stats("/tmp/prof").sort_stats("cumtime").print_stats(25)
