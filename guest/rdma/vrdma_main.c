// SPDX-License-Identifier: GPL-2.0
/*
 * vrdma: probe, the control queue, the port and its GIDs.
 *
 * The device shares the wire of a virtio-net NIC (like a RoCE NIC); the
 * config space names that NIC's MAC, and the netdev with that address is
 * the port's netdev, so the RDMA core derives the GIDs from its IP
 * addresses and resolves the rdma_cm's routes through it.
 */
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/virtio_config.h>
#include <net/addrconf.h>
#include <rdma/ib_addr.h>
#include <rdma/ib_cache.h>
#include <rdma/ib_mad.h>

#include "vrdma.h"

/* A device that has not answered a command in this long is taken for dead. */
#define VRDMA_CTRL_TIMEOUT_NS	(30ULL * NSEC_PER_SEC)

/*
 * One command, waited for by polling: req_notify_cq and create_ah come
 * from atomic context, and the device answers from its own thread within
 * microseconds.
 */
int vrdma_ctrl(struct vrdma_dev *dev, u8 cmd, const void *in, size_t inlen,
	       void *out, size_t outlen)
{
	struct vrdma_ctrl_buf *b = dev->ctrl;
	struct scatterlist req, rep, *sgs[2] = { &req, &rep };
	unsigned long flags;
	unsigned int len = 0;
	ktime_t deadline;
	void *done;
	int ret;

	if (WARN_ON(1 + inlen > sizeof(b->req) || 1 + outlen > sizeof(b->reply)))
		return -EINVAL;
	spin_lock_irqsave(&dev->ctrl_lock, flags);
	if (virtqueue_is_broken(dev->ctrl_vq)) {
		ret = -EIO;
		goto out;
	}
	b->req[0] = cmd;
	memcpy(b->req + 1, in, inlen);
	b->reply[0] = EIO;
	sg_init_one(&req, b->req, 1 + inlen);
	sg_init_one(&rep, b->reply, 1 + outlen);
	ret = virtqueue_add_sgs(dev->ctrl_vq, sgs, 1, 1, b, GFP_ATOMIC);
	if (ret)
		goto out;
	virtqueue_kick(dev->ctrl_vq);
	deadline = ktime_add_ns(ktime_get(), VRDMA_CTRL_TIMEOUT_NS);
	while (!(done = virtqueue_get_buf(dev->ctrl_vq, &len))) {
		if (virtqueue_is_broken(dev->ctrl_vq) || ktime_after(ktime_get(), deadline)) {
			/* The buffer stays with the device: no command can follow. */
			dev_err(&dev->vdev->dev, "command %u: no answer, control queue dead\n", cmd);
			virtio_break_device(dev->vdev);
			ret = -ETIMEDOUT;
			goto out;
		}
		cpu_relax();
	}
	if (len < 1)
		ret = -EIO;
	else if (b->reply[0])
		ret = -b->reply[0];
	else if (len < 1 + outlen)
		ret = -EIO;
	else
		memcpy(out, b->reply + 1, outlen);
out:
	spin_unlock_irqrestore(&dev->ctrl_lock, flags);
	return ret;
}

/* The commands whose only argument is a number (DESTROY_*, DEREG_MR, DEL_GID). */
int vrdma_ctrl_handle(struct vrdma_dev *dev, u8 cmd, u32 handle)
{
	struct virtio_rdma_handle h = { .handle = cpu_to_le32(handle) };

	return vrdma_ctrl(dev, cmd, &h, sizeof(h), NULL, 0);
}

static int vrdma_query_device_attrs(struct vrdma_dev *dev)
{
	struct virtio_rdma_query_device_reply r;
	struct ib_device_attr *a = &dev->attrs;
	int ret;

	ret = vrdma_ctrl(dev, VIRTIO_RDMA_CMD_QUERY_DEVICE, NULL, 0, &r, sizeof(r));
	if (ret)
		return ret;
	memset(a, 0, sizeof(*a));
	a->sys_image_guid = cpu_to_be64(le64_to_cpu(r.sys_image_guid));
	a->max_mr_size = le64_to_cpu(r.max_mr_size);
	a->page_size_cap = le64_to_cpu(r.page_size_cap);
	a->vendor_id = le32_to_cpu(r.vendor_id);
	a->vendor_part_id = le32_to_cpu(r.vendor_part_id);
	a->hw_ver = le32_to_cpu(r.hw_ver);
	a->max_qp = le32_to_cpu(r.max_qp);
	a->max_qp_wr = le32_to_cpu(r.max_qp_wr);
	a->max_send_sge = le32_to_cpu(r.max_sge);
	a->max_recv_sge = le32_to_cpu(r.max_sge);
	a->max_sge_rd = le32_to_cpu(r.max_sge);
	a->max_cq = le32_to_cpu(r.max_cq);
	a->max_cqe = le32_to_cpu(r.max_cqe);
	a->max_mr = le32_to_cpu(r.max_mr);
	a->max_pd = le32_to_cpu(r.max_pd);
	a->max_ah = le32_to_cpu(r.max_ah);
	a->max_qp_rd_atom = le32_to_cpu(r.max_qp_rd_atom);
	a->max_res_rd_atom = a->max_qp_rd_atom * a->max_qp;
	a->max_qp_init_rd_atom = le32_to_cpu(r.max_qp_init_rd_atom);
	a->max_fast_reg_page_list_len = le32_to_cpu(r.max_fast_reg_page_list_len);
	a->max_pkeys = 1;
	a->atomic_cap = r.atomic_cap ? IB_ATOMIC_HCA : IB_ATOMIC_NONE;
	if (le64_to_cpu(r.device_cap_flags) & VIRTIO_RDMA_DEVICE_MEM_MGT_EXTENSIONS)
		a->device_cap_flags |= IB_DEVICE_MEM_MGT_EXTENSIONS;
	if (le64_to_cpu(r.device_cap_flags) & VIRTIO_RDMA_DEVICE_RC_RNR_NAK_GEN)
		a->device_cap_flags |= IB_DEVICE_RC_RNR_NAK_GEN;
	a->local_ca_ack_delay = 15;
	dev->max_inline = le32_to_cpu(r.max_inline);
	return 0;
}

static int vrdma_query_device(struct ib_device *ib, struct ib_device_attr *attr,
			      struct ib_udata *udata)
{
	if (udata && (udata->inlen || udata->outlen))
		return -EINVAL;
	*attr = to_vdev(ib)->attrs;
	return 0;
}

static int vrdma_query_port(struct ib_device *ib, u32 port, struct ib_port_attr *attr)
{
	struct vrdma_dev *dev = to_vdev(ib);
	struct virtio_rdma_query_port q = { .port = port };
	struct virtio_rdma_query_port_reply r;
	struct net_device *ndev;
	int ret;

	ret = vrdma_ctrl(dev, VIRTIO_RDMA_CMD_QUERY_PORT, &q, sizeof(q), &r, sizeof(r));
	if (ret)
		return ret;
	attr->gid_tbl_len = le32_to_cpu(r.gid_tbl_len);
	attr->max_msg_sz = le32_to_cpu(r.max_msg_sz);
	attr->port_cap_flags = le32_to_cpu(r.port_cap_flags);
	attr->pkey_tbl_len = 1;
	attr->max_mtu = r.max_mtu;
	attr->active_mtu = r.active_mtu;
	attr->active_width = r.active_width;
	attr->active_speed = r.active_speed;
	attr->state = r.state;
	attr->phys_state = r.phys_state;
	/* The port is up when its netdev has a carrier: that is the wire. */
	rcu_read_lock();
	ndev = dev->netdev;
	if (ndev) {
		attr->active_mtu = min_t(u8, attr->active_mtu,
					 ib_mtu_int_to_enum(iboe_get_mtu(ndev->mtu)));
		if (!netif_running(ndev) || !netif_carrier_ok(ndev)) {
			attr->state = IB_PORT_DOWN;
			attr->phys_state = IB_PORT_PHYS_STATE_DISABLED;
		}
	}
	rcu_read_unlock();
	return 0;
}

static int vrdma_port_immutable(struct ib_device *ib, u32 port, struct ib_port_immutable *im)
{
	struct vrdma_dev *dev = to_vdev(ib);

	im->pkey_tbl_len = 1;
	im->gid_tbl_len = le32_to_cpu(dev->cfg.gid_tbl_len);
	im->core_cap_flags = RDMA_CORE_PORT_IBA_ROCE_UDP_ENCAP;
	im->max_mad_size = IB_MGMT_MAD_SIZE;
	return 0;
}

static enum rdma_link_layer vrdma_link_layer(struct ib_device *ib, u32 port)
{
	return IB_LINK_LAYER_ETHERNET;
}

static int vrdma_query_pkey(struct ib_device *ib, u32 port, u16 index, u16 *pkey)
{
	if (index)
		return -EINVAL;
	*pkey = IB_DEFAULT_PKEY_FULL;
	return 0;
}

/* The RDMA core keeps the GID table; the device keeps a copy for its wire. */
static int vrdma_add_gid(const struct ib_gid_attr *attr, void **context)
{
	struct virtio_rdma_add_gid q = {
		.index = cpu_to_le16(attr->index),
		.type = VIRTIO_RDMA_GID_ROCE_V2,
	};

	if (attr->gid_type != IB_GID_TYPE_ROCE_UDP_ENCAP)
		return -EINVAL;
	memcpy(q.gid, attr->gid.raw, sizeof(q.gid));
	return vrdma_ctrl(to_vdev(attr->device), VIRTIO_RDMA_CMD_ADD_GID, &q, sizeof(q), NULL, 0);
}

static int vrdma_del_gid(const struct ib_gid_attr *attr, void **context)
{
	return vrdma_ctrl_handle(to_vdev(attr->device), VIRTIO_RDMA_CMD_DEL_GID, attr->index);
}

static void vrdma_port_event(struct vrdma_dev *dev, enum ib_event_type type)
{
	struct ib_event ev = { .device = &dev->ib, .event = type, .element.port_num = 1 };

	if (dev->registered)
		ib_dispatch_event(&ev);
}

static int vrdma_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct vrdma_dev *dev = container_of(nb, struct vrdma_dev, netdev_nb);
	struct net_device *ndev = netdev_notifier_info_to_dev(ptr);

	switch (event) {
	case NETDEV_REGISTER:
		if (!dev->netdev && ndev->type == ARPHRD_ETHER &&
		    ether_addr_equal(ndev->dev_addr, dev->cfg.mac) &&
		    !ib_device_set_netdev(&dev->ib, ndev, 1))
			WRITE_ONCE(dev->netdev, ndev);
		break;
	case NETDEV_UNREGISTER:
		if (ndev == dev->netdev) {
			ib_device_set_netdev(&dev->ib, NULL, 1);
			WRITE_ONCE(dev->netdev, NULL);
		}
		break;
	case NETDEV_UP:
	case NETDEV_CHANGE:
	case NETDEV_DOWN:
		if (ndev == dev->netdev)
			vrdma_port_event(dev, netif_running(ndev) && netif_carrier_ok(ndev) ?
					 IB_EVENT_PORT_ACTIVE : IB_EVENT_PORT_ERR);
		break;
	}
	return NOTIFY_DONE;
}

static struct ib_device_ops vrdma_main_ops = {
	.owner = THIS_MODULE,
	.driver_id = RDMA_DRIVER_UNKNOWN,
	.query_device = vrdma_query_device,
	.query_port = vrdma_query_port,
	.get_port_immutable = vrdma_port_immutable,
	.get_link_layer = vrdma_link_layer,
	.query_pkey = vrdma_query_pkey,
	.add_gid = vrdma_add_gid,
	.del_gid = vrdma_del_gid,
};

static int vrdma_find_vqs(struct vrdma_dev *dev)
{
	u32 n = 1 + dev->max_cq + 2 * dev->max_qp, i;
	vq_callback_t **cbs;
	const char **names;
	int ret = -ENOMEM;

	dev->vqs = kcalloc(n, sizeof(*dev->vqs), GFP_KERNEL);
	cbs = kcalloc(n, sizeof(*cbs), GFP_KERNEL);
	names = kcalloc(n, sizeof(*names), GFP_KERNEL);
	if (!dev->vqs || !cbs || !names)
		goto out;
	names[0] = "ctrl";
	for (i = 1; i < n; i++) {
		if (i <= dev->max_cq) {
			cbs[i] = vrdma_cq_event;
			names[i] = "cq";
		} else {
			names[i] = (i - 1 - dev->max_cq) % 2 ? "rq" : "sq";
		}
	}
	ret = virtio_find_vqs(dev->vdev, n, dev->vqs, cbs, names, NULL);
	if (!ret)
		dev->ctrl_vq = dev->vqs[0];
out:
	kfree(cbs);
	kfree(names);
	return ret;
}

/* After the vqs are gone: nothing posted can be used any more. */
static void vrdma_free(struct vrdma_dev *dev)
{
	u32 i;

	for (i = 0; dev->cqe_bufs && i < dev->max_cq; i++)
		kfree(dev->cqe_bufs[i]);
	kfree(dev->cqe_bufs);
	kfree(dev->vqs);
	kfree(dev->qps);
	kfree(dev->cqs);
	kfree(dev->ctrl);
	ib_dealloc_device(&dev->ib);
}

static int vrdma_probe(struct virtio_device *vdev)
{
	struct vrdma_dev *dev;
	int ret;

	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1))
		return -ENODEV;
	dev = ib_alloc_device(vrdma_dev, ib);
	if (!dev)
		return -ENOMEM;
	dev->vdev = vdev;
	vdev->priv = dev;
	spin_lock_init(&dev->ctrl_lock);
	spin_lock_init(&dev->table_lock);
	virtio_cread_bytes(vdev, 0, &dev->cfg, sizeof(dev->cfg));
	dev->max_cq = le32_to_cpu(dev->cfg.max_cq);
	dev->max_qp = le32_to_cpu(dev->cfg.max_qp);
	dev->max_qp_wr = le32_to_cpu(dev->cfg.max_qp_wr);
	dev->max_sge = le32_to_cpu(dev->cfg.max_sge);
	ret = -EINVAL;
	if (!dev->max_cq || dev->max_cq > 256 || dev->max_qp < 2 || dev->max_qp > 256 ||
	    !dev->max_qp_wr || !dev->max_sge || !le32_to_cpu(dev->cfg.gid_tbl_len)) {
		dev_err(&vdev->dev, "config out of range: %u CQs, %u QPs\n",
			dev->max_cq, dev->max_qp);
		goto err_free;
	}
	ret = -ENOMEM;
	dev->ctrl = kzalloc(sizeof(*dev->ctrl), GFP_KERNEL);
	dev->cqs = kcalloc(dev->max_cq, sizeof(*dev->cqs), GFP_KERNEL);
	dev->qps = kcalloc(dev->max_qp, sizeof(*dev->qps), GFP_KERNEL);
	dev->cqe_bufs = kcalloc(dev->max_cq, sizeof(*dev->cqe_bufs), GFP_KERNEL);
	if (!dev->ctrl || !dev->cqs || !dev->qps || !dev->cqe_bufs)
		goto err_free;
	ret = vrdma_find_vqs(dev);
	if (ret)
		goto err_free;
	virtio_device_ready(vdev);

	ret = vrdma_cq_rings_init(dev);
	if (ret)
		goto err_vqs;
	ret = vrdma_query_device_attrs(dev);
	if (ret)
		goto err_vqs;
	dev->ib.node_type = RDMA_NODE_IB_CA;
	dev->ib.phys_port_cnt = 1;
	dev->ib.num_comp_vectors = 1;
	addrconf_addr_eui48((u8 *)&dev->ib.node_guid, dev->cfg.mac);
	ib_set_device_ops(&dev->ib, &vrdma_main_ops);
	ib_set_device_ops(&dev->ib, &vrdma_dev_ops);

	dev->netdev_nb.notifier_call = vrdma_netdev_event;
	ret = register_netdevice_notifier(&dev->netdev_nb);
	if (ret)
		goto err_vqs;
	ret = ib_register_device(&dev->ib, "vrdma%d", vdev->dev.parent);
	if (ret)
		goto err_nb;
	dev->registered = true;
	dev_info(&vdev->dev, "%s: %u CQs, %u QPs, port on %s\n", dev_name(&dev->ib.dev),
		 dev->max_cq, dev->max_qp, dev->netdev ? dev->netdev->name : "(no netdev yet)");
	return 0;

err_nb:
	unregister_netdevice_notifier(&dev->netdev_nb);
err_vqs:
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
err_free:
	vrdma_free(dev);
	return ret;
}

static void vrdma_remove(struct virtio_device *vdev)
{
	struct vrdma_dev *dev = vdev->priv;

	ib_unregister_device(&dev->ib);
	unregister_netdevice_notifier(&dev->netdev_nb);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	vrdma_free(dev);
}

static const struct virtio_device_id vrdma_id_table[] = {
	{ VIRTIO_ID_RDMA, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int vrdma_features[] = {};

static struct virtio_driver vrdma_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vrdma_id_table,
	.feature_table = vrdma_features,
	.feature_table_size = ARRAY_SIZE(vrdma_features),
	.probe = vrdma_probe,
	.remove = vrdma_remove,
};

module_virtio_driver(vrdma_driver);
MODULE_DEVICE_TABLE(virtio, vrdma_id_table);
MODULE_DESCRIPTION("vlab virtio-rdma (RoCEv2) driver");
MODULE_LICENSE("GPL");
