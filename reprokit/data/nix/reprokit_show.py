# A matplotlib backend that keeps what a paper shows: each figure shown with plt.show()
# is saved as REPROKIT_SHOWN/figure-N.png (N counting from 1 across the run, and on from
# the figures of the scripts run before it: a driver's os.system("python fig.py") runs
# each show their own) and then closed, as a window a person closes. Everything else is
# matplotlib's Agg backend.
#
#   MPLBACKEND=module://reprokit_show REPROKIT_SHOWN=/path/to/folder python paper.py
#
# Used by reprokit (and a bundle's Nix checks) for scripts; written for every matplotlib
# from 1.4 and every Python from 2.7.
import errno
import os

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends import backend_agg

FigureCanvas = backend_agg.FigureCanvasAgg
FigureManager = getattr(backend_agg, "FigureManager", FigureManagerBase)
_shown = [0]


def new_figure_manager(num, *args, **kwargs):
    return backend_agg.new_figure_manager(num, *args, **kwargs)


def new_figure_manager_given_figure(num, figure):
    return backend_agg.new_figure_manager_given_figure(num, figure)


def show(*args, **kwargs):
    folder = os.environ.get("REPROKIT_SHOWN") or "shown"
    managers = Gcf.get_all_fig_managers()
    if managers and not os.path.isdir(folder):
        os.makedirs(folder)
    for manager in sorted(managers, key=lambda m: m.num):
        manager.canvas.figure.savefig(_next(folder))
    Gcf.destroy_all()


def _next(folder):
    """The next figure-N.png no process of the run has taken, taken (made empty) here."""
    while True:
        _shown[0] += 1
        path = os.path.join(folder, "figure-%d.png" % _shown[0])
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return path
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
