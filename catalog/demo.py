"""A realistic, deterministic demo supermarket: catalog, stock and sales history.

Demand per product is drawn, not designed to flatter any forecast: a
heavy-tailed base rate (many slow movers with intermittent demand, a few fast
movers), weekly seasonality (weekends busier), short promotion spikes, and a
mild trend. Weighed goods sell decimal kilograms.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from catalog import gtin
from catalog.models import Category, Product, ProductBarcode, Supplier, Unit
from checkout.models import Register
from reports.models import SalesDaily
from stock.models import Location, MovementKind
from stock.services import Move, stock_move_batch
from supermarket.money import money, quantity
from supermarket.roles import CASHIER, MANAGER, user_set_role

# (Chinese, English, sold by weight, tax rate %, product stems (Chinese, English))
CATEGORIES = [
    (
        "饮料",
        "Beverages",
        False,
        13,
        [
            ("矿泉水", "Mineral water"),
            ("可乐", "Cola"),
            ("绿茶", "Green tea"),
            ("橙汁", "Orange juice"),
            ("苏打水", "Soda water"),
        ],
    ),
    (
        "乳制品",
        "Dairy",
        False,
        13,
        [("纯牛奶", "Whole milk"), ("酸奶", "Yogurt"), ("奶酪", "Cheese"), ("黄油", "Butter")],
    ),
    (
        "零食",
        "Snacks",
        False,
        13,
        [
            ("薯片", "Potato chips"),
            ("饼干", "Biscuits"),
            ("坚果", "Mixed nuts"),
            ("巧克力", "Chocolate"),
            ("果冻", "Jelly"),
        ],
    ),
    (
        "方便食品",
        "Instant food",
        False,
        13,
        [
            ("方便面", "Instant noodles"),
            ("自热火锅", "Self-heating hotpot"),
            ("速冻水饺", "Frozen dumplings"),
            ("汤圆", "Tangyuan"),
        ],
    ),
    (
        "粮油",
        "Rice and oil",
        False,
        9,
        [("东北大米", "Northeast rice"), ("面粉", "Wheat flour"), ("花生油", "Peanut oil"), ("菜籽油", "Rapeseed oil")],
    ),
    (
        "调味品",
        "Condiments",
        False,
        13,
        [
            ("生抽", "Light soy sauce"),
            ("老抽", "Dark soy sauce"),
            ("陈醋", "Aged vinegar"),
            ("蚝油", "Oyster sauce"),
            ("鸡精", "Chicken bouillon"),
        ],
    ),
    ("酒类", "Alcohol", False, 13, [("啤酒", "Beer"), ("白酒", "Baijiu"), ("红酒", "Red wine"), ("黄酒", "Huangjiu")]),
    (
        "茶叶",
        "Tea",
        False,
        13,
        [("龙井", "Longjing tea"), ("铁观音", "Tieguanyin"), ("普洱", "Pu'er"), ("红茶", "Black tea")],
    ),
    (
        "冲调",
        "Hot drinks",
        False,
        13,
        [("速溶咖啡", "Instant coffee"), ("麦片", "Oatmeal"), ("豆奶粉", "Soy milk powder"), ("蜂蜜", "Honey")],
    ),
    ("糖果", "Candy", False, 13, [("水果糖", "Fruit candy"), ("口香糖", "Chewing gum"), ("奶糖", "Milk candy")]),
    (
        "面包糕点",
        "Bakery",
        False,
        13,
        [("吐司", "Toast bread"), ("月饼", "Mooncake"), ("蛋糕", "Sponge cake"), ("面包", "Bread roll")],
    ),
    (
        "冷冻食品",
        "Frozen food",
        False,
        13,
        [("冰淇淋", "Ice cream"), ("速冻包子", "Frozen buns"), ("鸡翅", "Chicken wings"), ("鱼丸", "Fish balls")],
    ),
    (
        "新鲜水果",
        "Fresh fruit",
        True,
        9,
        [("苹果", "Apples"), ("香蕉", "Bananas"), ("橙子", "Oranges"), ("葡萄", "Grapes"), ("西瓜", "Watermelon")],
    ),
    (
        "新鲜蔬菜",
        "Fresh vegetables",
        True,
        9,
        [
            ("西红柿", "Tomatoes"),
            ("黄瓜", "Cucumbers"),
            ("白菜", "Napa cabbage"),
            ("土豆", "Potatoes"),
            ("青椒", "Green peppers"),
        ],
    ),
    (
        "肉类",
        "Meat",
        True,
        9,
        [("猪五花", "Pork belly"), ("牛腱", "Beef shank"), ("鸡胸肉", "Chicken breast"), ("排骨", "Spare ribs")],
    ),
    ("水产", "Seafood", True, 9, [("鲈鱼", "Sea bass"), ("基围虾", "Shrimp"), ("带鱼", "Hairtail"), ("鱿鱼", "Squid")]),
    ("蛋类", "Eggs", False, 9, [("鸡蛋", "Eggs"), ("鸭蛋", "Duck eggs"), ("鹌鹑蛋", "Quail eggs")]),
    ("豆制品", "Tofu", False, 9, [("豆腐", "Tofu"), ("豆干", "Dried tofu"), ("腐竹", "Tofu skin")]),
    (
        "熟食",
        "Deli",
        True,
        13,
        [("卤鸭脖", "Braised duck neck"), ("烤鸡", "Roast chicken"), ("酱牛肉", "Braised beef")],
    ),
    (
        "洗护用品",
        "Personal care",
        False,
        13,
        [("洗发水", "Shampoo"), ("沐浴露", "Shower gel"), ("牙膏", "Toothpaste"), ("牙刷", "Toothbrush")],
    ),
    ("纸品", "Paper goods", False, 13, [("卷纸", "Toilet roll"), ("抽纸", "Tissues"), ("湿巾", "Wet wipes")]),
    (
        "清洁用品",
        "Cleaning",
        False,
        13,
        [("洗衣液", "Laundry liquid"), ("洗洁精", "Dish soap"), ("消毒液", "Disinfectant")],
    ),
    (
        "厨房用品",
        "Kitchenware",
        False,
        13,
        [("保鲜膜", "Cling film"), ("垃圾袋", "Bin bags"), ("一次性筷子", "Disposable chopsticks")],
    ),
    (
        "母婴用品",
        "Baby",
        False,
        13,
        [("婴儿奶粉", "Infant formula"), ("纸尿裤", "Diapers"), ("婴儿湿巾", "Baby wipes")],
    ),
    ("宠物用品", "Pet", False, 13, [("猫粮", "Cat food"), ("狗粮", "Dog food"), ("猫砂", "Cat litter")]),
    ("文具", "Stationery", False, 13, [("中性笔", "Gel pen"), ("笔记本", "Notebook"), ("胶带", "Tape")]),
    (
        "家用电器小件",
        "Small electrics",
        False,
        13,
        [("电池", "Batteries"), ("插线板", "Power strip"), ("灯泡", "Light bulb")],
    ),
    (
        "保健品",
        "Health",
        False,
        13,
        [("维生素C", "Vitamin C"), ("钙片", "Calcium tablets"), ("蛋白粉", "Protein powder")],
    ),
    (
        "干货",
        "Dried goods",
        False,
        9,
        [("香菇", "Shiitake"), ("木耳", "Wood ear fungus"), ("红枣", "Red dates"), ("枸杞", "Goji berries")],
    ),
    (
        "罐头",
        "Canned food",
        False,
        13,
        [("午餐肉", "Luncheon meat"), ("黄桃罐头", "Canned peaches"), ("金枪鱼罐头", "Canned tuna")],
    ),
    (
        "南北货",
        "Regional specialties",
        False,
        13,
        [("腊肠", "Chinese sausage"), ("咸鸭蛋", "Salted duck eggs"), ("榨菜", "Zha cai pickles")],
    ),
    (
        "季节商品",
        "Seasonal",
        False,
        13,
        [("粽子", "Zongzi"), ("春联", "Spring couplets"), ("汤圆礼盒", "Tangyuan gift box")],
    ),
]
BRANDS = [
    ("康师傅", "Master Kong"),
    ("统一", "Uni-President"),
    ("伊利", "Yili"),
    ("蒙牛", "Mengniu"),
    ("农夫山泉", "Nongfu"),
    ("海天", "Haitian"),
    ("金龙鱼", "Arawana"),
    ("旺旺", "Want Want"),
    ("三只松鼠", "Three Squirrels"),
    ("良品铺子", "Bestore"),
    ("青岛", "Tsingtao"),
    ("雪花", "Snow"),
    ("五粮液", "Wuliangye"),
    ("维达", "Vinda"),
    ("心相印", "Hearttex"),
    ("蓝月亮", "Bluemoon"),
    ("立白", "Liby"),
    ("云南白药", "Yunnan Baiyao"),
    ("光明", "Bright"),
    ("思念", "Synear"),
    ("三全", "Sanquan"),
    ("达利园", "Daliyuan"),
    ("徐福记", "Hsu Fu Chi"),
    ("百事", "Pepsi"),
    ("本地", "Local"),
]
SIZES = [
    ("小包装", "small"),
    ("标准装", "regular"),
    ("家庭装", "family size"),
    ("特惠装", "value pack"),
    ("礼盒装", "gift box"),
]
SUPPLIERS = [
    ("华润万家配送中心", 2),
    ("上海联华物流", 1),
    ("广州食品批发", 3),
    ("北京京客隆供应链", 2),
    ("杭州农产品市场", 1),
    ("成都粮油公司", 4),
    ("山东果蔬合作社", 2),
    ("青岛啤酒华东分公司", 5),
    ("宝洁中国", 7),
    ("联合利华中国", 6),
    ("雀巢中国", 5),
    ("伊利华东", 3),
    ("蒙牛华东", 3),
    ("海天调味品", 4),
    ("本地鲜肉供应商", 1),
    ("东海水产", 1),
]


@dataclass
class DemoResult:
    products: int
    categories: int
    suppliers: int
    sales_rows: int
    passwords: dict[str, str]


def _users() -> dict[str, str]:
    User = get_user_model()
    passwords = {"cashier": "cashier-demo-1", "manager": "manager-demo-1"}
    roles = {"cashier": CASHIER, "manager": MANAGER}
    for username, password in passwords.items():
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = username == "manager"
        user.is_superuser = username == "manager"
        user.save()
        user_set_role(user=user, role=roles[username])
    return passwords


def _registers(floor: Location) -> None:
    """Two tills on the store floor (the online register comes with the checkout migrations)."""
    for code, name in (("T01", "收银台 1 Till 1"), ("T02", "收银台 2 Till 2")):
        Register.objects.get_or_create(code=code, defaults={"name": name, "location": floor})


@transaction.atomic
def seed_demo(*, products: int = 2000, days: int = 180, seed: int = 1, today: date | None = None) -> DemoResult:
    """Create the demo store. Deterministic for a given seed; expects an empty catalog."""
    rng = np.random.default_rng(seed)
    today = today or timezone.localdate()
    suppliers = [
        Supplier(name=name, lead_time_days=lead, phone=f"021-{5550000 + i:07d}")
        for i, (name, lead) in enumerate(SUPPLIERS)
    ]
    suppliers = bulk_create_with_history(suppliers, Supplier)
    suppliers = list(Supplier.objects.order_by("pk"))
    categories = bulk_create_with_history([Category(name=c[0], name_en=c[1]) for c in CATEGORIES], Category)
    categories = list(Category.objects.order_by("pk"))

    catalog = []
    extra = []
    store_code = 10001
    for i in range(products):
        cat_index = i % len(CATEGORIES)
        zh, en, by_weight, tax, stems = CATEGORIES[cat_index]
        stem_zh, stem_en = stems[int(rng.integers(len(stems)))]
        brand_zh, brand_en = BRANDS[int(rng.integers(len(BRANDS)))]
        size_zh, size_en = SIZES[(i // len(CATEGORIES)) % len(SIZES)]
        prefix = 690 + int(rng.integers(10))
        barcode = gtin.with_check_digit(f"{prefix}{i + 100000:09d}")
        cost = Decimal(str(round(float(rng.lognormal(1.6, 0.8)) + 0.5, 2)))
        margin = Decimal(str(round(float(rng.uniform(1.12, 1.45)), 2)))
        product = Product(
            barcode=barcode,
            name=f"{brand_zh}{stem_zh}{'' if by_weight else size_zh}",
            name_en=f"{brand_en} {stem_en}{'' if by_weight else ' ' + size_en}",
            category=categories[cat_index],
            supplier=suppliers[i % len(suppliers)],
            purchase_price=cost,
            selling_price=money(cost * margin + Decimal("0.4")),
            tax_rate=Decimal(tax),
            unit=Unit.KG if by_weight else Unit.EACH,
            store_code=f"{store_code + i}" if by_weight else None,
        )
        catalog.append(product)
    catalog = bulk_create_with_history(catalog, Product, batch_size=1000)
    catalog = list(Product.objects.order_by("pk"))
    for i, product in enumerate(catalog):
        if product.category.name_en in ("Beverages", "Alcohol", "Dairy") and i % 3 == 0:
            extra.append(
                ProductBarcode(
                    product=product,
                    barcode=gtin.with_check_digit(f"1{product.barcode[:-1]}"),
                    pack_quantity=[6, 12, 24][i % 3],
                )
            )
    ProductBarcode.objects.bulk_create(extra)

    # Demand: heavy-tailed base rate; about a third are slow movers with intermittent demand.
    base = rng.lognormal(mean=0.3, sigma=1.3, size=len(catalog))
    base[rng.random(len(catalog)) < 0.33] *= 0.08
    weekday_effect = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.35, 1.3])  # Mon..Sun
    start = today - timedelta(days=days)
    day_list = [start + timedelta(days=d) for d in range(days)]
    weekdays = np.array([d.weekday() for d in day_list])
    floor = Location.default()
    rows = []
    last_day_sales = []
    for index, product in enumerate(catalog):
        trend = 1 + rng.uniform(-0.25, 0.25) * np.linspace(0, 1, days)
        promo = np.ones(days)
        for _ in range(int(rng.poisson(1.5))):
            at = int(rng.integers(days))
            promo[at : at + int(rng.integers(3, 8))] *= rng.uniform(1.8, 3.2)
        rate = base[index] * weekday_effect[weekdays] * trend * promo
        if product.sold_by_weight:
            counts = rng.poisson(rate * 1.5)
            sold = np.round(counts * rng.gamma(4.0, 0.12, size=days), 3)
        else:
            sold = rng.poisson(rate).astype(float)
        for day, q in zip(day_list, sold, strict=True):
            if q > 0:
                q = quantity(str(q))
                rows.append(
                    SalesDaily(
                        product=product,
                        location=floor,
                        day=day,
                        quantity=q,
                        amount=money(q * product.selling_price),
                        cost=q * product.purchase_price,
                    )
                )
        daily = max(float(np.mean(sold)), 0.05)
        product.safety_stock = quantity(
            str(round(daily * (product.supplier.lead_time_days + 2), 1 if product.sold_by_weight else 0))
        )
        on_hand = quantity(
            str(
                round(daily * float(rng.uniform(2, 25)) + float(rng.integers(0, 4)), 3 if product.sold_by_weight else 0)
            )
        )
        product._opening = on_hand
        if sold[-1] > 0:
            last_day_sales.append((product, quantity(str(min(sold[-1], float(on_hand))))))
    Product.objects.bulk_update(catalog, ["safety_stock"], batch_size=1000)
    SalesDaily.objects.bulk_create(rows, batch_size=5000)

    backroom = Location.objects.get(code="BACK")
    stock_move_batch(
        moves=[Move(p, floor, p._opening) for p in catalog if p._opening > 0]
        + [Move(p, backroom, quantity(p._opening * 2)) for p in catalog if p._opening > 0 and not p.sold_by_weight],
        kind=MovementKind.RECEIPT,
        reference="OPENING",
    )
    # Today's sales so far go through the stock service like any sale, raising suggestions where stock runs low.
    stock_move_batch(
        moves=[Move(p, floor, -q) for p, q in last_day_sales if q > 0], kind=MovementKind.SALE, reference="DEMO"
    )
    _registers(floor)
    return DemoResult(len(catalog), len(categories), len(suppliers), len(rows), _users())
