"""Order domain: materials, products (parameters, routing, BOM, characteristics), customers,
orders and their lifecycle, work orders and operations, serial numbers, the factory aggregate."""

from microfactory.orders.factory import Factory, FactoryProblem
from microfactory.orders.materials import MATERIAL_KINDS, Material, MaterialLot
from microfactory.orders.orders import (
    ORDER_TRANSITIONS,
    WORK_TRANSITIONS,
    OperationState,
    Order,
    OrderLine,
    OrderStatus,
    SerialNumber,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
    explode_work_orders,
    work_order_for_line,
)
from microfactory.orders.products import (
    BomLine,
    Characteristic,
    Customer,
    ParameterSpec,
    ParamValue,
    Product,
    RoutingOperation,
)

__all__ = [
    "MATERIAL_KINDS",
    "ORDER_TRANSITIONS",
    "WORK_TRANSITIONS",
    "BomLine",
    "Characteristic",
    "Customer",
    "Factory",
    "FactoryProblem",
    "Material",
    "MaterialLot",
    "OperationState",
    "Order",
    "OrderLine",
    "OrderStatus",
    "ParamValue",
    "ParameterSpec",
    "Product",
    "RoutingOperation",
    "SerialNumber",
    "WorkOrder",
    "WorkOrderOperation",
    "WorkStatus",
    "explode_work_orders",
    "work_order_for_line",
]
